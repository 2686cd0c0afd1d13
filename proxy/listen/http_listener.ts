/**
 * One HTTP entrypoint at run time: its listener (plain TCP, or TLS with SNI and ALPN), and the
 * dispatch of each accepted connection to the HTTP/1.1 engine or, for h2, to hyper.
 */
import type { CertificateFile, Entrypoint } from "../config/types.ts";
import { h2Handler } from "../proto/h2_hyper.ts";
import type { H1Limits } from "../proto/h1/server.ts";
import { serveH1 } from "../proto/h1/server.ts";
import { type ClientInfo, DEADLINE_CUT, type Handler } from "../proto/message.ts";
import { serveHttpOnConnection } from "../internal/deno_internals.ts";
import { CertStore } from "../tls/cert_store.ts";
import { probePort, TlsEndpoint } from "../tls/server.ts";
import { acceptLoop } from "../net/accept.ts";
import type { TlsRelay } from "../tls/relay.ts";
import { type ConnectionRegistry, TrackedConnection } from "../net/connections.ts";

/** The client of a connection relayed from a passthrough front (see tcp_entrypoint.ts). */
export interface RelayedPeer {
  readonly address: string;
  readonly port: number;
  /** SNI of the ClientHello the front peeked. */
  readonly serverName: string | null;
}

export interface EntrypointDeps {
  readonly registry: ConnectionRegistry;
  readonly handler: Handler;
  readonly limits: () => H1Limits;
  readonly tlsHandshakeMs: () => number;
  /** Open client connections allowed across entrypoints; 0 = no limit. */
  readonly maxConnections: () => number;
  readonly onRejected?: (status: number, reason: string, client: ClientInfo) => void;
  /**
   * Set when the TLS listener is internal (127.0.0.1, port 0) and fed by a front that peeked
   * ClientHellos: every connection must be claimed from the relay, which knows the client.
   */
  readonly relay?: TlsRelay<RelayedPeer>;
  /** Certificates obtained at run time (ACME) for this entrypoint. */
  readonly obtained?: () => readonly CertificateFile[];
}

export class EntrypointRuntime {
  readonly name: string;
  config: Entrypoint;
  /** The bound port (differs from the config only when it said 0). */
  readonly port: number;
  readonly #deps: EntrypointDeps;
  readonly #plain: Deno.TcpListener | null;
  readonly #tls: TlsEndpoint | null;

  /** Binds the entrypoint's address; throws a readable error if it cannot. */
  constructor(config: Entrypoint, deps: EntrypointDeps) {
    this.name = config.name;
    this.config = config;
    this.#deps = deps;
    const { hostname, port } = config.address;
    try {
      if (config.tls === null) {
        const bound = probePort(hostname, port);
        this.#plain = Deno.listen({ hostname, port: bound });
        this.#tls = null;
        this.port = bound;
        this.#acceptPlain(this.#plain);
      } else {
        this.#plain = null;
        this.#tls = TlsEndpoint.open({
          hostname,
          port,
          alpn: config.tls.alpn,
          store: new CertStore(config.tls, deps.obtained?.()),
          onConnection: (conn) => this.#onTls(conn),
        });
        this.port = this.#tls.port;
      }
    } catch (err) {
      throw new Error(
        `Cannot listen on ${hostname}:${port} for entrypoint "${config.name}": ${bindReason(err)}`,
      );
    }
  }

  /** True when `next` can be applied without a new listener (same address and TLS-ness). */
  canUpdate(next: Entrypoint): boolean {
    const a = this.config.address;
    const b = next.address;
    return a.hostname === b.hostname && (a.port === b.port || b.port === 0) &&
      (this.config.tls === null) === (next.tls === null) &&
      String(this.config.tls?.alpn) === String(next.tls?.alpn);
  }

  /** Applies a changed entrypoint (new certificates apply to new handshakes). */
  update(next: Entrypoint): void {
    this.config = next;
    this.refreshCertificates();
  }

  /** Rebuilds the certificate store (files and obtained ones) for new handshakes. */
  refreshCertificates(): void {
    const tls = this.config.tls;
    if (this.#tls !== null && tls !== null) {
      this.#tls.setCertificates(new CertStore(tls, this.#deps.obtained?.()));
    }
  }

  /** Stops accepting; open connections are left to drain. */
  close(): void {
    try {
      this.#plain?.close();
    } catch {
      // already closed
    }
    this.#tls?.close();
  }

  #acceptPlain(listener: Deno.TcpListener): void {
    acceptLoop(listener, (conn) => {
      const track = this.#admit(conn);
      if (track === null) return;
      conn.setNoDelay(true);
      track.state = "idle";
      this.#serveH1(conn, track, false);
    });
  }

  #onTls(conn: Deno.TlsConn): void {
    if (this.#deps.relay) {
      this.#onRelayed(conn, this.#deps.relay);
      return;
    }
    const track = this.#admit(conn);
    if (track === null) return;
    this.#handshake(conn, track);
  }

  async #onRelayed(conn: Deno.TlsConn, relay: TlsRelay<RelayedPeer>): Promise<void> {
    const link = await relay.claim(conn);
    if (link === undefined) {
      try {
        conn.close();
      } catch {
        // already closed
      }
      return;
    }
    const track = this.#admit(conn);
    if (track === null) {
      link.close();
      return;
    }
    this.#handshake(conn, track, link.context);
  }

  async #handshake(
    conn: Deno.TlsConn,
    track: TrackedConnection,
    peer?: RelayedPeer,
  ): Promise<void> {
    track.deadline = Date.now() + this.#deps.tlsHandshakeMs();
    let alpn: string | null;
    try {
      alpn = (await conn.handshake()).alpnProtocol;
    } catch {
      track.close();
      this.#deps.registry.delete(track);
      return;
    }
    track.deadline = 0;
    track.state = "idle";
    if (alpn === "h2") this.#serveH2(conn, track, peer);
    else this.#serveH1(conn, track, true, peer);
  }

  /** Registers a new connection, or refuses it when the connection limit is reached. */
  #admit(conn: Deno.Conn): TrackedConnection | null {
    const max = this.#deps.maxConnections();
    const own = this.config.maxConnections;
    if (
      (max > 0 && this.#deps.registry.size >= max) || this.#deps.registry.draining ||
      (own > 0 && this.#deps.registry.count(this.name) >= own)
    ) {
      try {
        conn.close();
      } catch {
        // already closed
      }
      return null;
    }
    const track = new TrackedConnection(this.name, "http", () => conn.close());
    this.#deps.registry.add(track);
    return track;
  }

  #client(conn: Deno.Conn, tls: boolean, peer?: RelayedPeer): ClientInfo {
    const addr = peer ?? (conn.remoteAddr as Deno.NetAddr);
    return {
      address: "address" in addr ? addr.address : addr.hostname,
      port: addr.port,
      entrypoint: this.name,
      tls,
      serverName: peer?.serverName ?? null,
    };
  }

  #serveH1(conn: Deno.Conn, track: TrackedConnection, tls: boolean, peer?: RelayedPeer): void {
    serveH1(conn, {
      client: this.#client(conn, tls, peer),
      track,
      registry: this.#deps.registry,
      limits: this.#deps.limits,
      handler: this.#deps.handler,
      onRejected: this.#deps.onRejected,
    });
  }

  #serveH2(conn: Deno.TlsConn, track: TrackedConnection, peer?: RelayedPeer): void {
    let inflight = 0;
    const idle = () => {
      track.state = "idle";
      track.deadline = Date.now() + this.#deps.limits().keepAliveIdleMs;
    };
    idle();
    const handler = h2Handler(this.#deps.handler, this.#client(conn, true, peer), (delta) => {
      inflight += delta;
      if (inflight === 0) idle();
      else {
        track.state = "active";
        track.deadline = 0;
      }
    });
    const served = serveHttpOnConnection(
      conn,
      handler.serve,
      () => new Response(null, { status: 500 }),
    );
    track.onDrain = () => served.shutdown();
    // Closing the socket does nothing once hyper owns it. A deadline aborts the connection;
    // during a graceful close (GOAWAY sent) that is no longer possible, so the requests still
    // running are ended instead, and the close completes with them.
    track.onClose = () => {
      if (!served.abort()) handler.cut(DEADLINE_CUT);
    };
    served.finished.finally(() => {
      // The connection is over, not cut by a deadline: a request still waiting for its upstream
      // has nobody to answer, and ends as the client's doing (499) unless a deadline cut it first.
      track.onClose = null;
      handler.cut(CONNECTION_ENDED);
      track.close();
      this.#deps.registry.delete(track);
    });
  }
}

const CONNECTION_ENDED = new DOMException("the client connection ended", "AbortError");

/** Why a listener could not bind, for "Cannot listen on ...". */
export function bindReason(err: unknown): string {
  if (err instanceof Deno.errors.AddrInUse) {
    return "the address is already in use (another Gatehouse, or another server, holds the port)";
  }
  if (err instanceof Deno.errors.PermissionDenied || err instanceof Deno.errors.NotCapable) {
    return "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE; or run with --allow-net)";
  }
  if (err instanceof Deno.errors.AddrNotAvailable) return "that address is not on this machine";
  return err instanceof Error ? err.message : String(err);
}
