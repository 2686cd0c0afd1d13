/**
 * One HTTP entrypoint at run time: its listener (plain TCP, or TLS with SNI and ALPN), and the
 * dispatch of each accepted connection to the HTTP/1.1 engine or, for h2, to hyper.
 *
 * Tested by http_listener_test.ts.
 */
import type { CertificateFile, Config, Entrypoint } from "../config/types.ts";
import { h2Handler } from "../proto/h2_hyper.ts";
import type { H1Limits, H1ServerOptions } from "../proto/h1/server.ts";
import { serveH1 } from "../proto/h1/server.ts";
import { type ClientInfo, DEADLINE_CUT, type Handler } from "../proto/message.ts";
import { serveHttpOnConnection } from "../internal/deno_internals.ts";
import { CertStore } from "../tls/cert_store.ts";
import { probePort, TlsEndpoint } from "../tls/server.ts";
import { acceptLoop } from "../net/accept.ts";
import type { TlsRelay } from "../tls/relay.ts";
import { TrackedConnection } from "../net/connections.ts";
import { bindOrExplain, Listener, type ListenerDeps } from "./listener.ts";
import type { ListenerKind } from "./listener_kind.ts";

/** The client of a connection relayed from a passthrough front (see tcp_entrypoint.ts). */
export interface RelayedPeer {
  readonly address: string;
  readonly port: number;
  /** SNI of the ClientHello the front peeked. */
  readonly serverName: string | null;
}

export interface HttpListenerDeps extends ListenerDeps {
  readonly handler: Handler;
  readonly limits: () => H1Limits;
  readonly tlsHandshakeMs: () => number;
  /** The live config (connection limits). */
  readonly config: () => Config;
  /** Requests the HTTP/1.1 engine refused before the pipeline saw them. */
  readonly onRejected?: H1ServerOptions["onRejected"];
  /**
   * Set when the TLS listener is internal (127.0.0.1, port 0) and fed by a front that peeked
   * ClientHellos: every connection must be claimed from the relay, which knows the client.
   */
  readonly relay?: TlsRelay<RelayedPeer>;
  /** Certificates obtained at run time (ACME) for this entrypoint. */
  readonly obtained?: () => readonly CertificateFile[];
}

export class HttpListener extends Listener {
  readonly port: number;
  readonly #deps: HttpListenerDeps;
  readonly #plain: Deno.TcpListener | null;
  readonly #tls: TlsEndpoint | null;

  /** Binds the entrypoint's address; throws a readable error if it cannot. */
  constructor(config: Entrypoint, deps: HttpListenerDeps) {
    super(config, "http", deps);
    this.#deps = deps;
    const { hostname, port } = config.address;
    if (config.tls === null) {
      const listener = bindOrExplain(config, () => {
        const bound = probePort(hostname, port);
        return Deno.listen({ hostname, port: bound });
      });
      this.#plain = listener;
      this.#tls = null;
      this.port = listener.addr.port;
      this.#acceptPlain(listener);
    } else {
      const tls = config.tls;
      this.#plain = null;
      this.#tls = bindOrExplain(config, () =>
        TlsEndpoint.open({
          hostname,
          port,
          alpn: tls.alpn,
          store: new CertStore(tls, deps.obtained?.()),
          onConnection: (conn) => this.#onTls(conn),
        }));
      this.port = this.#tls.port;
    }
  }

  canUpdate(next: Entrypoint, kind: ListenerKind): boolean {
    return kind === "http" && this.sameAddress(next) &&
      String(this.config.tls?.alpn) === String(next.tls?.alpn);
  }

  update(next: Entrypoint): void {
    this.config = next;
    this.refreshCertificates();
  }

  refreshCertificates(): void {
    const tls = this.config.tls;
    if (this.#tls !== null && tls !== null) {
      this.#tls.setCertificates(new CertStore(tls, this.#deps.obtained?.()));
    }
  }

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
      this.registry.delete(track);
      return;
    }
    track.deadline = 0;
    track.state = "idle";
    if (alpn === "h2") this.#serveH2(conn, track, peer);
    else this.#serveH1(conn, track, true, peer);
  }

  /** Registers a new connection, or refuses it when a connection limit is reached. */
  #admit(conn: Deno.Conn): TrackedConnection | null {
    if (this.refuse(conn, this.#deps.config()) !== null) return null;
    const track = new TrackedConnection(this.name, "http", () => conn.close());
    this.registry.add(track);
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
      registry: this.registry,
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
      this.registry.delete(track);
    });
  }
}

const CONNECTION_ENDED = new DOMException("the client connection ended", "AbortError");
