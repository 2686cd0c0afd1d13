/**
 * Client TLS to upstream servers: verified with the service's CA and SNI name, or, only when a
 * service opts in with `insecure_skip_verify`, not verified at all (node:tls, the only Deno API
 * that can skip verification). Dialling the TCP connection itself is upstream/dial.ts's job.
 *
 * Tested by upstream/dial_test.ts.
 */
import { isIP } from "node:net";
import tls from "node:tls";
import type { UpstreamTls } from "../config/types.ts";
import type { ByteConn } from "../net/buffered_conn.ts";

/** Where a client TLS connection goes and what it offers. */
export interface ClientTlsTarget {
  readonly hostname: string;
  readonly port: number;
  /** ALPN protocols offered, in preference order. */
  readonly alpn: readonly string[];
}

/** A TLS connection and the protocol the server chose by ALPN (null: none). */
export interface ClientTlsConn {
  readonly conn: ByteConn;
  readonly alpn: string | null;
}

/** Starts verified TLS on a connected `tcp`; closes it and rejects if the handshake fails. */
export async function startClientTls(
  tcp: Deno.TcpConn,
  target: ClientTlsTarget,
  upstreamTls: UpstreamTls,
  signal: AbortSignal,
): Promise<ClientTlsConn> {
  try {
    const conn = await Deno.startTls(tcp, {
      hostname: upstreamTls.serverName ?? target.hostname,
      caCerts: upstreamTls.caPem ? [upstreamTls.caPem] : undefined,
      alpnProtocols: [...target.alpn],
    });
    const onAbort = () => conn.close();
    signal.addEventListener("abort", onAbort, { once: true });
    if (signal.aborted) onAbort();
    let alpn: string | null;
    try {
      alpn = (await conn.handshake()).alpnProtocol;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
    return { conn, alpn };
  } catch (err) {
    try {
      tcp.close();
    } catch {
      // closed by startTls
    }
    throw err;
  }
}

/** Connects with TLS that verifies nothing (`insecure_skip_verify`), over its own TCP dial. */
export function connectInsecureTls(
  target: ClientTlsTarget,
  upstreamTls: UpstreamTls,
  signal: AbortSignal,
): Promise<ClientTlsConn> {
  const name = upstreamTls.serverName ?? target.hostname;
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: target.hostname,
      port: target.port,
      // SNI carries host names only (RFC 6066); node:tls throws on an IP address there.
      servername: isIP(name) === 0 ? name : undefined,
      rejectUnauthorized: false,
      ALPNProtocols: [...target.alpn],
    });
    const onAbort = () => {
      socket.destroy();
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("secureConnect", () => {
      signal.removeEventListener("abort", onAbort);
      socket.setNoDelay(true);
      const alpn = socket.alpnProtocol;
      resolve({ conn: new NodeSocketConn(socket), alpn: typeof alpn === "string" ? alpn : null });
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
