/**
 * Holds `--count` idle keep-alive TLS connections: each handshakes (ALPN http/1.1), sends one
 * `GET` and reads the whole response, then stays open. Prints a result line once all are open,
 * closes them when stdin reaches EOF.
 *
 * `deno run --allow-net --allow-read bench/clients/idle_tls.ts --port P --ca CA.pem --count 2000`
 *
 * @module
 */
import { closeQuietly, connectTls, emit, options, writeAll } from "./common.ts";

const opt = options({ port: undefined, ca: undefined, count: "2000", concurrency: "50" });
const caCerts = [await Deno.readTextFile(opt.ca)];
const request = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");

/** Reads one response whose body has a Content-Length, leaving the connection open. */
async function readResponse(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(16 * 1024);
  let text = "";
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("Connection closed before the response ended");
    text += new TextDecoder("latin1").decode(buf.subarray(0, n));
    const end = text.indexOf("\r\n\r\n");
    if (end < 0) continue;
    if (!text.startsWith("HTTP/1.1 200")) throw new Error(`Got "${text.split("\r\n")[0]}"`);
    const length = Number(text.slice(0, end).match(/\r\ncontent-length:\s*(\d+)/i)?.[1]);
    if (!Number.isFinite(length)) throw new Error("Response without Content-Length");
    if (text.length - end - 4 >= length) return;
  }
}

const conns: Deno.Conn[] = [];
let open = 0;
let errors = 0;
let firstError: string | undefined;
let next = 0;
const count = Number(opt.count);
const start = performance.now();
await Promise.all(Array.from({ length: Number(opt.concurrency) }, async () => {
  while (next < count) {
    next++;
    try {
      const conn = await connectTls(Number(opt.port), caCerts);
      conns.push(conn);
      await writeAll(conn, request);
      await readResponse(conn);
      open++;
    } catch (error) {
      errors++;
      firstError ??= (error as Error).message;
    }
  }
}));
const seconds = (performance.now() - start) / 1000;
emit({ open, errors, first_error: firstError, seconds });

for await (const _ of Deno.stdin.readable) {
  // Hold the connections until the harness closes stdin.
}
for (const conn of conns) closeQuietly(conn);
