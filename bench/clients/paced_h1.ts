/**
 * Paced, unsaturated HTTP/1.1 over TLS: `--connections` keep-alive TLS connections (TCP_NODELAY on
 * the client side, ALPN http/1.1) each send one `GET`, read the response (Content-Length framed),
 * then pause `--pause` ms before the next. The latency of each request (write to last byte) is
 * what a proxy adds to traffic that never queues: Nagle meeting delayed ACKs shows up here as
 * ~40 ms steps (issue 18).
 *
 * `deno run --allow-net --allow-read bench/clients/paced_h1.ts --port P --ca CA.pem --path /
 *  --connections 4 --pause 10 --seconds 5 --warmup 1`
 *
 * @module
 */
import { closeQuietly, connectTls, emit, Latencies, options, writeAll } from "./common.ts";

const opt = options({
  port: undefined,
  ca: undefined,
  path: "/",
  connections: "4",
  pause: "10",
  seconds: "5",
  warmup: "1",
});
const caCerts = [await Deno.readTextFile(opt.ca)];
const request = new TextEncoder().encode(`GET ${opt.path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
const pause = Number(opt.pause);

/** Reads one Content-Length framed response from `conn` into `buf` (reused); its body size. */
async function readResponse(conn: Deno.Conn, buf: Uint8Array): Promise<number> {
  let have = 0;
  let headEnd = -1;
  while (headEnd < 0) {
    const n = await conn.read(buf.subarray(have));
    if (n === null) throw new Error("the connection closed before a response head");
    have += n;
    headEnd = indexOfHeadEnd(buf, have);
    if (headEnd < 0 && have === buf.length) throw new Error("response head over 64 KiB");
  }
  const head = new TextDecoder().decode(buf.subarray(0, headEnd));
  if (!head.startsWith("HTTP/1.1 200")) throw new Error(`Got "${head.split("\r\n")[0]}"`);
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (length === null) throw new Error("a response without Content-Length (not supported here)");
  let left = Number(length[1]) - (have - headEnd - 4);
  while (left > 0) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("the connection closed in the middle of a body");
    left -= n;
  }
  return Number(length[1]);
}

function indexOfHeadEnd(buf: Uint8Array, end: number): number {
  for (let i = 3; i < end; i++) {
    if (buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 && buf[i - 3] === 13) return i - 3;
  }
  return -1;
}

/** Runs the paced loops for `seconds`; the latencies and counts. */
async function phase(seconds: number) {
  const latencies = new Latencies();
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const end = start + seconds * 1000;
  const loop = async () => {
    const buf = new Uint8Array(64 * 1024);
    let conn: Deno.TlsConn | null = null;
    while (performance.now() < end) {
      try {
        conn ??= await connectTls(Number(opt.port), caCerts);
        const t0 = performance.now();
        await writeAll(conn, request);
        await readResponse(conn, buf);
        latencies.add(performance.now() - t0);
      } catch (error) {
        errors++;
        firstError ??= (error as Error).message;
        if (conn) closeQuietly(conn);
        conn = null;
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
    if (conn) closeQuietly(conn);
  };
  await Promise.all(Array.from({ length: Number(opt.connections) }, loop));
  return { latencies, errors, firstError, seconds: (performance.now() - start) / 1000 };
}

if (Number(opt.warmup) > 0) await phase(Number(opt.warmup));
const result = await phase(Number(opt.seconds));
emit({
  operations: result.latencies.count,
  seconds: result.seconds,
  errors: result.errors,
  first_error: result.firstError,
  p50_ms: result.latencies.percentile(50),
  p99_ms: result.latencies.percentile(99),
});
