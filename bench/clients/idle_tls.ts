/**
 * Holds `--count` idle keep-alive TLS connections: each handshakes (ALPN http/1.1, or h2 with
 * `--alpn h2`), sends one `GET` and reads the whole response, then stays open. Prints a result
 * line once all are open, closes them when stdin reaches EOF.
 *
 * `deno run --allow-net --allow-read bench/clients/idle_tls.ts --port P --ca CA.pem --count 2000`
 *
 * @module
 */
import { closeQuietly, connectTls, emit, options, writeAll } from "./common.ts";

const opt = options({
  port: undefined,
  ca: undefined,
  count: "2000",
  concurrency: "50",
  alpn: "http/1.1",
});
if (opt.alpn !== "http/1.1" && opt.alpn !== "h2") {
  throw new Error(`Cannot start: --alpn is http/1.1 or h2, not "${opt.alpn}"`);
}
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

/** A frame: 9-byte header (length, type, flags, stream) and payload. */
function frame(type: number, flags: number, stream: number, payload = new Uint8Array(0)) {
  const out = new Uint8Array(9 + payload.length);
  out[0] = payload.length >> 16;
  out[1] = payload.length >> 8;
  out[2] = payload.length;
  out[3] = type;
  out[4] = flags;
  new DataView(out.buffer).setUint32(5, stream);
  out.set(payload, 9);
  return out;
}

const [HEADERS, SETTINGS, GOAWAY] = [1, 4, 7];
const [ACK, END_STREAM, END_HEADERS] = [1, 1, 4];
const authority = new TextEncoder().encode("localhost");
/**
 * The connection preface, empty SETTINGS, and GET https://localhost/ on stream 1 (HPACK: the
 * static table's :method GET, :scheme https, :path /, and :authority as a literal).
 */
const h2Hello = Uint8Array.from([
  ...new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
  ...frame(SETTINGS, 0, 0),
  ...frame(
    HEADERS,
    END_STREAM | END_HEADERS,
    1,
    Uint8Array.from([0x82, 0x87, 0x84, 0x41, authority.length, ...authority]),
  ),
]);

/** Reads frames until stream 1 ends (acknowledging the server's SETTINGS), leaving it open. */
async function readH2Response(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(16 * 1024);
  let pending = new Uint8Array(0);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("Connection closed before the response ended");
    const bytes = new Uint8Array(pending.length + n);
    bytes.set(pending);
    bytes.set(buf.subarray(0, n), pending.length);
    let at = 0;
    while (bytes.length - at >= 9) {
      const length = (bytes[at] << 16) | (bytes[at + 1] << 8) | bytes[at + 2];
      if (bytes.length - at < 9 + length) break;
      const [type, flags] = [bytes[at + 3], bytes[at + 4]];
      if (type === SETTINGS && !(flags & ACK)) await writeAll(conn, frame(SETTINGS, ACK, 0));
      if (type === GOAWAY) throw new Error("GOAWAY before the response ended");
      if ((type === 0 || type === HEADERS) && flags & END_STREAM) return;
      at += 9 + length;
    }
    pending = bytes.slice(at);
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
      const conn = await connectTls(Number(opt.port), caCerts, opt.alpn);
      conns.push(conn);
      if (opt.alpn === "h2") {
        await writeAll(conn, h2Hello);
        await readH2Response(conn);
      } else {
        await writeAll(conn, request);
        await readResponse(conn);
      }
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
