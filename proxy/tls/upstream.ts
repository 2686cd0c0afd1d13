/**
 * Connections to upstream servers: TCP, or TLS with the service's CA, SNI name and, only when a
 * service opts in with `insecure_skip_verify`, no verification at all.
 *
 * Every call resolves the host name again, so an upstream container recreated with a new
 * address is reached on the next new connection.
 */
import tls from "node:tls";
import type { ServerRef, UpstreamTls } from "../config/types.ts";
import type { ByteConn } from "../net/buffered_conn.ts";

/** Opens a connection to `server`; rejects when `signal` aborts first. */
export async function dialUpstream(
  server: ServerRef,
  upstreamTls: UpstreamTls,
  signal: AbortSignal,
): Promise<ByteConn> {
  if (server.scheme === "https" && upstreamTls.insecureSkipVerify) {
    return await dialInsecure(server, upstreamTls, signal);
  }
  const tcp = await Deno.connect({ hostname: server.hostname, port: server.port, signal });
  tcp.setNoDelay(true);
  if (server.scheme !== "https") return tcp;
  try {
    const conn = await Deno.startTls(tcp, {
      hostname: upstreamTls.serverName ?? server.hostname,
      caCerts: upstreamTls.caPem ? [upstreamTls.caPem] : undefined,
      alpnProtocols: ["http/1.1"],
    });
    const onAbort = () => conn.close();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      await conn.handshake();
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
    return conn;
  } catch (err) {
    try {
      tcp.close();
    } catch {
      // closed by startTls
    }
    throw err;
  }
}

function dialInsecure(
  server: ServerRef,
  upstreamTls: UpstreamTls,
  signal: AbortSignal,
): Promise<ByteConn> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: server.hostname,
      port: server.port,
      servername: upstreamTls.serverName ?? server.hostname,
      rejectUnauthorized: false,
      ALPNProtocols: ["http/1.1"],
    });
    const onAbort = () => {
      socket.destroy();
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("secureConnect", () => {
      signal.removeEventListener("abort", onAbort);
      socket.setNoDelay(true);
      resolve(new NodeSocketConn(socket));
    });
    socket.once("error", (err) => {
      signal.removeEventListener("abort", onAbort);
      reject(err);
    });
  });
}

/** A node:tls socket seen as a ByteConn, with backpressure both ways. */
class NodeSocketConn implements ByteConn {
  readonly #socket: tls.TLSSocket;
  readonly #queue: Uint8Array[] = [];
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;

  constructor(socket: tls.TLSSocket) {
    this.#socket = socket;
    socket.on("data", (data: Uint8Array) => {
      this.#queue.push(data);
      socket.pause();
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (err: Error) => {
      this.#error = err;
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (this.#queue.length === 0) {
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    const head = this.#queue[0];
    const n = Math.min(head.length, p.length);
    p.set(head.subarray(0, n));
    if (n === head.length) {
      this.#queue.shift();
      if (this.#queue.length === 0) this.#socket.resume();
    } else {
      this.#queue[0] = head.subarray(n);
    }
    return n;
  }

  write(p: Uint8Array): Promise<number> {
    if (this.#error) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      const copy = p.slice();
      this.#socket.write(copy, (err?: Error | null) => err ? reject(err) : resolve(p.length));
    });
  }

  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.#socket.end(resolve));
  }

  close(): void {
    this.#socket.destroy();
    this.#ended = true;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}
