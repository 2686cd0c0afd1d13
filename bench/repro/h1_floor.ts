/**
 * The floor of an HTTP/1.1 proxy on Deno (docs/runtime.md, question 4): the least JavaScript a
 * keep-alive proxy can run per request. One upstream connection per client connection, a GET
 * without a body, a Content-Length response, no parsing beyond finding the ends: four socket
 * ops per request, as Gatehouse and nginx do.
 *
 *   deno run -A bench/repro/h1_floor.ts <listen port> <upstream port> [--early-read] [--spin-us N]
 *
 * `--early-read` issues the client read for the next request before the upstream exchange (as a
 * watch for the client closing would), `--spin-us N` burns N µs of JavaScript per request.
 * Measured with the proxy pinned to one core (`taskset -c 1`), the upstream (bench's
 * upstream-nginx.conf) and `wrk -t1 -c50` on the other, CPU per request from /proc/PID/stat.
 *
 * @module
 */

const [listenPort, upstreamPort] = Deno.args.slice(0, 2).map(Number);
const earlyRead = Deno.args.includes("--early-read");
const spinAt = Deno.args.indexOf("--spin-us");
const spinMs = spinAt < 0 ? 0 : Number(Deno.args[spinAt + 1]) / 1000;

/** Index just past the blank line that ends a head in `buf[0, n)`, or -1. */
function headEnd(buf: Uint8Array, n: number): number {
  for (let i = 3; i < n; i++) {
    if (buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 && buf[i - 3] === 13) return i + 1;
  }
  return -1;
}

function contentLength(buf: Uint8Array, end: number): number {
  const head = new TextDecoder().decode(buf.subarray(0, end)).toLowerCase();
  const found = /content-length: *(\d+)/.exec(head);
  return found === null ? 0 : Number(found[1]);
}

async function serve(client: Deno.Conn): Promise<void> {
  const upstream = await Deno.connect({ hostname: "127.0.0.1", port: upstreamPort });
  const requests = [new Uint8Array(16384), new Uint8Array(16384)];
  const response = new Uint8Array(16384);
  let current = 0;
  let early: Promise<number | null> | null = null;
  try {
    while (true) {
      const request = requests[current];
      let n = 0;
      while (headEnd(request, n) < 0) {
        const got = early ?? client.read(request.subarray(n));
        early = null;
        const read = await got;
        if (read === null) return;
        n += read;
      }
      if (earlyRead) {
        current ^= 1;
        early = client.read(requests[current]);
      }
      await upstream.write(request.subarray(0, n));
      let m = 0;
      let end = -1;
      while (end < 0) {
        const read = await upstream.read(response.subarray(m));
        if (read === null) return;
        m += read;
        end = headEnd(response, m);
      }
      const total = end + contentLength(response, end);
      while (m < total) {
        const read = await upstream.read(response.subarray(m));
        if (read === null) return;
        m += read;
      }
      const until = performance.now() + spinMs;
      while (performance.now() < until) {
        // burning the JavaScript time of --spin-us
      }
      await client.write(response.subarray(0, m));
    }
  } catch {
    // a peer went away
  } finally {
    client.close();
    upstream.close();
  }
}

for await (const client of Deno.listen({ hostname: "127.0.0.1", port: listenPort })) serve(client);
