/**
 * TLS servers for the paced-TLS experiments (docs/runtime.md, question 2). `GET /small` answers
 * 100 bytes, `GET /1m` answers 1 MiB.
 *
 *   deno run -A bench/repro/tls_paced_server.ts <port> <mode> <cert.pem> <key.pem>
 *
 * Modes:
 * - `h1-split`: Deno.listenTls, HTTP/1.1, the head in one `write`, then the body in 64 KiB
 *   `write`s (what a proxy does when the body arrives after the head, in pieces).
 * - `h1-one`: the same, head and body in one `write`.
 * - `serve`: Deno.serve({cert, key}) (hyper; h2 and HTTP/1.1 by ALPN), body from memory.
 * - `serve-stream`: the same, the body a stream of 64 KiB chunks whose first chunk arrives in a
 *   later macrotask (what a proxied upstream body does: the head leaves before the body).
 * - `node-split`: node:tls with `setNoDelay(true)`, HTTP/1.1, written like `h1-split`.
 * - `upstream`: plain HTTP, answered like `serve-stream` (the upstream of the `gatehouse`
 *   targets; `cert.pem` and `key.pem` are not used).
 * Append `+nodelay` to a Deno mode to set TCP_NODELAY on the listening socket through FFI
 * (Gatehouse's own proxy/internal/tcp_nodelay.ts); the sockets it accepts inherit it. Linux
 * copies the option when the connection is established, so one established before the
 * setsockopt keeps Nagle: the server writes "ready" to stderr once the option is set, and clients
 * must wait for it.
 *
 * The driver is tls_paced.ts; see it for results.
 *
 * @module
 */
import { setNoDelayOnListeners } from "../../proxy/internal/tcp_nodelay.ts";

const [portArg, modeArg, certFile, keyFile] = Deno.args;
const port = Number(portArg);
const [mode, option] = modeArg.split("+");
const cert = mode === "upstream" ? "" : Deno.readTextFileSync(certFile);
const key = mode === "upstream" ? "" : Deno.readTextFileSync(keyFile);

const SMALL = new Uint8Array(100).fill(0x61);
const LARGE = new Uint8Array(1024 * 1024).fill(0x62);
const CHUNK = 64 * 1024;
const encoder = new TextEncoder();

function head(length: number): Uint8Array {
  return encoder.encode(
    `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${length}\r\n\r\n`,
  );
}

function pieces(body: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0; off < body.length; off += CHUNK) out.push(body.subarray(off, off + CHUNK));
  return out;
}

const macrotask = () => new Promise((resolve) => setTimeout(resolve, 0));

interface Writer {
  write(bytes: Uint8Array): Promise<void>;
}

/** Parses request heads from `chunks` and answers each through `out`. */
async function serveH1(
  chunks: AsyncIterable<Uint8Array>,
  out: Writer,
  oneWrite: boolean,
): Promise<void> {
  let pending = "";
  for await (const chunk of chunks) {
    pending += new TextDecoder().decode(chunk);
    let end: number;
    while ((end = pending.indexOf("\r\n\r\n")) >= 0) {
      const path = pending.slice(0, pending.indexOf("\r\n")).split(" ")[1];
      pending = pending.slice(end + 4);
      const body = path === "/1m" ? LARGE : SMALL;
      const h = head(body.length);
      if (oneWrite) {
        const all = new Uint8Array(h.length + body.length);
        all.set(h);
        all.set(body, h.length);
        await out.write(all);
      } else {
        await out.write(h);
        for (const piece of pieces(body)) await out.write(piece);
      }
    }
  }
}

async function* reads(conn: Deno.Conn): AsyncIterable<Uint8Array> {
  const buf = new Uint8Array(16 * 1024);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) return;
    yield buf.slice(0, n);
  }
}

function denoWriter(conn: Deno.Conn): Writer {
  return {
    async write(bytes) {
      for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
    },
  };
}

/** Sets TCP_NODELAY on the listening socket; stops the experiment when it cannot. */
function noDelay(): void {
  const result = setNoDelayOnListeners(port);
  if (!result.ok) throw new Error(result.reason);
}

if (mode === "serve" || mode === "serve-stream" || mode === "upstream") {
  const tls = mode === "upstream" ? {} : { cert, key };
  Deno.serve({ hostname: "127.0.0.1", port, ...tls, onListen() {} }, (req) => {
    const body = new URL(req.url).pathname === "/1m" ? LARGE : SMALL;
    if (mode === "serve") return new Response(body);
    const queue = pieces(body);
    let first = true;
    return new Response(
      new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (first) await macrotask();
          first = false;
          const next = queue.shift();
          if (next) controller.enqueue(next);
          else controller.close();
        },
      }),
      { headers: { "content-length": String(body.length) } },
    );
  });
  if (option === "nodelay") noDelay();
  console.error("ready");
} else if (mode === "node-split") {
  const tls = await import("node:tls");
  tls.createServer({ cert, key }, (socket) => {
    socket.setNoDelay(true);
    socket.on("error", () => {});
    const chunks = (async function* () {
      for await (const chunk of socket) yield chunk as Uint8Array;
    })();
    serveH1(chunks, {
      write: (bytes) =>
        new Promise<void>((resolve) => {
          if (socket.write(bytes)) resolve();
          else socket.once("drain", resolve);
        }),
    }, false).catch(() => socket.destroy());
  }).listen(port, "127.0.0.1", () => console.error("ready"));
} else {
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port,
    cert,
    key,
    alpnProtocols: ["http/1.1"],
  });
  if (option === "nodelay") noDelay();
  console.error("ready");
  for await (const conn of listener) {
    serveH1(reads(conn), denoWriter(conn), mode === "h1-one")
      .catch(() => {})
      .finally(() => {
        try {
          conn.close();
        } catch {
          // closed
        }
      });
  }
}
