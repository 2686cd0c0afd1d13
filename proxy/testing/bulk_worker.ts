/**
 * A Worker holding both ends of a bulk TCP transfer through the proxy, so that generating and
 * hashing the bytes runs on another thread than the proxy under test. Each end sends `size`
 * pseudo-random bytes (xorshift, seeded per end), half-closes, reads everything the other end
 * sends, and reports byte counts and SHA-256 of what it sent and received.
 *
 * Messages in: `{ op: "listen", size }` (upstream; answers `{ port }`; `sizes: [...]` instead
 * serves one connection per size, one after the other), then `{ op: "connect", port, size, tls? }`
 * (client). Each end answers a `BulkReport` when done.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { createHash } from "node:crypto";

/** What one end of the transfer saw. */
export interface BulkReport {
  readonly side: "client" | "upstream";
  readonly sent: number;
  readonly sentSha256: string;
  readonly received: number;
  readonly receivedSha256: string;
  readonly ms: number;
  readonly error: string | null;
}

const CHUNK = 256 * 1024;

async function send(conn: Deno.Conn, size: number, seed: number): Promise<[number, string]> {
  const hash = createHash("sha256");
  const chunk = new Uint8Array(CHUNK);
  const words = new Uint32Array(chunk.buffer);
  let x = seed;
  let sent = 0;
  while (sent < size) {
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x;
    }
    const part = chunk.subarray(0, Math.min(CHUNK, size - sent));
    hash.update(part);
    let off = 0;
    while (off < part.length) off += await conn.write(part.subarray(off));
    sent += part.length;
  }
  await conn.closeWrite();
  return [sent, hash.digest("hex")];
}

async function receive(conn: Deno.Conn): Promise<[number, string]> {
  const hash = createHash("sha256");
  const buf = new Uint8Array(CHUNK);
  let received = 0;
  while (true) {
    const n = await conn.read(buf);
    if (n === null) break;
    hash.update(buf.subarray(0, n));
    received += n;
  }
  return [received, hash.digest("hex")];
}

async function duplex(
  side: BulkReport["side"],
  conn: Deno.Conn,
  size: number,
  seed: number,
): Promise<BulkReport> {
  const start = performance.now();
  try {
    const [[sent, sentSha256], [received, receivedSha256]] = await Promise.all([
      send(conn, size, seed),
      receive(conn),
    ]);
    const ms = performance.now() - start;
    return { side, sent, sentSha256, received, receivedSha256, ms, error: null };
  } catch (err) {
    const ms = performance.now() - start;
    const error = (err as Error).message;
    return { side, sent: 0, sentSha256: "", received: 0, receivedSha256: "", ms, error };
  } finally {
    try {
      conn.close();
    } catch {
      // closed by the peer
    }
  }
}

self.onmessage = async (event: MessageEvent) => {
  const msg = event.data;
  if (msg.op === "listen") {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    self.postMessage({ port: listener.addr.port });
    const sizes: number[] = msg.sizes ?? [msg.size];
    for (const size of sizes) {
      const conn = await listener.accept();
      self.postMessage(await duplex("upstream", conn, size, 0x9e3779b9));
    }
    listener.close();
  } else if (msg.op === "connect") {
    let conn: Deno.Conn = await Deno.connect({ hostname: "127.0.0.1", port: msg.port });
    if (msg.tls) {
      const tls = await Deno.startTls(conn as Deno.TcpConn, {
        hostname: msg.tls.serverName,
        caCerts: [msg.tls.caPem],
      });
      await tls.handshake();
      conn = tls;
    }
    self.postMessage(await duplex("client", conn, msg.size, 0x85ebca6b));
  }
};
