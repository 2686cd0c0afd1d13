/**
 * One HTTP entrypoint at run time: its listener (plain TCP, or TLS with SNI and ALPN), and the
 * dispatch of each accepted connection to the HTTP/1.1 engine or the HTTP/2 one: by ALPN on
 * TLS, by the first bytes on plain TCP (the h2c prior-knowledge preface; anything else is
 * HTTP/1.x, so both work on one port).
 *
 * A unix socket entrypoint serves as a TCP one does (h2c included); HTTPS on a unix socket: Deno's
 * TLS listener binds TCP only, so each connection on the socket is relayed over loopback to an
 * internal TLS listener (tls/relay.ts), as passthrough entrypoints do; the relay tells that
 * listener which socket the client came from.
 *
 * HTTP/2 connections follow the same contract as HTTP/1.1 ones in the connection registry: idle
 * (no stream open) under the keep-alive deadline, a graceful GOAWAY when draining, and at a
 * deadline the requests still running are ended (the pipeline answers them: 503 at the drain
 * deadline) before the connection closes.
 *
 * Tested by http_listener_test.ts and the h2_*_test.ts files beside it.
 */
import type { CertificateFile, Config, Entrypoint } from "../config/types.ts";
import type { H1Limits, H1ServerOptions } from "../proto/h1/server.ts";
import { serveH1 } from "../proto/h1/server.ts";
import { H2Front, sniffPreface } from "../proto/h2_front.ts";
import type { H2Stats } from "../proto/h2/guard.ts";
import { type ClientInfo, DEADLINE_CUT, type Handler } from "../proto/message.ts";
import { BufferedConn } from "../net/buffered_conn.ts";
import { CertStore } from "../tls/cert_store.ts";
import { probePort, TlsEndpoint } from "../tls/server.ts";
import { AcceptLoops } from "../net/accept.ts";
import { TlsRelay } from "../tls/relay.ts";
import { TrackedConnection } from "../net/connections.ts";
import { connEnds, unixAddress, UnixSocketListener } from "../net/unix_socket.ts";
import { bindOrExplain, INTERNAL_ADDRESS, Listener, type ListenerDeps } from "./listener.ts";
import type { ListenerKind } from "./listener_kind.ts";
import { H2EventLog } from "./h2_events.ts";
import { monotonicNow } from "../clock.ts";

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
  /** The entrypoint's HTTP/2 counters (defences, protocol errors), kept across reloads. */
  readonly h2Stats?: H2Stats;
}

/** A registered connection, and what closing it does (an h2 connection changes that). */
interface Admitted {
  readonly track: TrackedConnection;
  close: () => void;
}

/** At a deadline, how long ended requests get to send their answers before the h2 close. */
const CUT_GRACE_MS = 1000;

export class HttpListener extends Listener {
  readonly port: number;
  readonly #deps: HttpListenerDeps;
  readonly #plain: Deno.TcpListener | null;
  readonly #tls: TlsEndpoint | null;
  readonly #h2Events: H2EventLog;
  /** The entrypoint's unix socket (in front of #tls, through a relay, for HTTPS). */
  readonly #unix: UnixSocketListener | null = null;
  readonly #loops = new AcceptLoops();

  /** Binds the entrypoint's address; throws a readable error if it cannot. */
  constructor(config: Entrypoint, deps: HttpListenerDeps) {
    super(config, "http", deps);
    this.#deps = deps;
    this.#h2Events = new H2EventLog(config.name);
    const { hostname, port } = config.address;
    if (config.unix !== null) {
      this.#plain = null;
      const relay = config.tls === null ? null : new TlsRelay<RelayedPeer>();
      this.#tls = relay === null ? null : this.#openUnixTls(config, relay);
      const unix = config.unix;
      try {
        this.#unix = bindOrExplain(config, () =>
          UnixSocketListener.open(unix, (conn) => {
            if (relay === null) this.#onPlain(conn);
            else this.#relay(conn, relay);
          }, this.acceptFailed));
      } catch (err) {
        this.#tls?.close();
        throw err;
      }
      this.port = 0;
    } else if (config.tls === null) {
      // SO_REUSEPORT: every worker isolate accepts here; the probe keeps other processes out.
      const listener = bindOrExplain(config, () => {
        const bound = probePort(hostname, port);
        return Deno.listen({ hostname, port: bound, reusePort: true });
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
          onAcceptFailure: this.acceptFailed,
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
    if (next.unix !== null) this.#unix?.update(next.unix);
    this.refreshCertificates();
  }

  refreshCertificates(): void {
    const tls = this.config.tls;
    if (this.#tls !== null && tls !== null) {
      this.#tls.setCertificates(new CertStore(tls, this.#deps.obtained?.()));
    }
  }

  override async closed(): Promise<void> {
    await Promise.all([this.#loops.ended(), this.#tls?.closed()]);
  }

  close(): void {
    try {
      this.#plain?.close();
    } catch {
      // already closed
    }
    this.#unix?.close();
    this.#tls?.close();
  }

  #acceptPlain(listener: Deno.TcpListener): void {
    this.#loops.start(
      listener,
      (conn) => {
        conn.setNoDelay(true);
        this.#onPlain(conn);
      },
      undefined,
      this.acceptFailed,
    );
  }

  /** A plain connection (TCP or unix socket): HTTP/1.1, or h2c by its preface. */
  #onPlain(conn: Deno.Conn): void {
    const admitted = this.#admit(conn);
    if (admitted === null) return;
    void this.#servePlain(conn, admitted);
  }

  /** HTTPS on a unix socket: its internal TLS listener, fed by #relay. */
  #openUnixTls(config: Entrypoint, relay: TlsRelay<RelayedPeer>): TlsEndpoint {
    const tls = config.tls!;
    return bindOrExplain(config, () =>
      TlsEndpoint.open({
        ...INTERNAL_ADDRESS,
        alpn: tls.alpn,
        store: new CertStore(tls, this.#deps.obtained?.()),
        onConnection: (conn) => this.#onRelayed(conn, relay),
        onAcceptFailure: this.acceptFailed,
      }));
  }

  /** Relays a connection of the unix socket to the internal TLS listener. */
  #relay(conn: Deno.UnixConn, relay: TlsRelay<RelayedPeer>): void {
    const peer = { address: unixAddress(this.config.unix!.path), port: 0, serverName: null };
    relay.relay(conn, {
      port: this.#tls!.port,
      first: new Uint8Array(0),
      context: peer,
      endWithInner: { graceMs: this.#deps.config().timeouts.drain },
    }).then((ok) => {
      if (ok) return;
      try {
        conn.close();
      } catch {
        // already closed
      }
    });
  }

  /**
   * HTTP/1.x, or h2c when the client starts with the HTTP/2 preface (prior knowledge); with
   * `h2c: only` every connection is HTTP/2 (the engine answers a wrong preface with GOAWAY), with
   * `h2c: off` every one is HTTP/1.x.
   */
  async #servePlain(conn: Deno.Conn, admitted: Admitted): Promise<void> {
    const { track } = admitted;
    track.state = "idle";
    track.deadline = monotonicNow() + this.#deps.limits().headerReadMs;
    const io = new BufferedConn(conn, 1024);
    const mode = this.config.h2c;
    const kind = mode === "on" ? await sniffPreface(io) : mode === "only" ? "h2" : "http/1";
    if (kind === "closed") {
      track.close();
      this.registry.delete(track);
    } else if (kind === "h2") {
      this.#serveH2(conn, admitted, false, undefined, io.drainBuffer());
    } else {
      this.#serveH1(conn, track, false, undefined, io);
    }
  }

  #onTls(conn: Deno.TlsConn): void {
    if (this.#deps.relay) {
      this.#onRelayed(conn, this.#deps.relay);
      return;
    }
    const admitted = this.#admit(conn);
    if (admitted === null) return;
    this.#handshake(conn, admitted);
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
    // Per client, it counts against the address the front saw (a passthrough entrypoint's
    // client; the front's own count ended at the hand-over), not the relay's loopback one; a
    // unix socket's client has none.
    const admitted = this.#admit(conn, this.config.unix === null ? link.context.address : null);
    if (admitted === null) {
      link.close();
      return;
    }
    this.#handshake(conn, admitted, link.context);
  }

  async #handshake(
    conn: Deno.TlsConn,
    admitted: Admitted,
    peer?: RelayedPeer,
  ): Promise<void> {
    const { track } = admitted;
    track.deadline = monotonicNow() + this.#deps.tlsHandshakeMs();
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
    if (alpn === "h2") this.#serveH2(conn, admitted, true, peer);
    else this.#serveH1(conn, track, true, peer);
  }

  /**
   * Registers a new connection, or refuses it when a connection limit is reached; `client`
   * replaces its TCP peer's address as what it counts against per client.
   */
  #admit(conn: Deno.Conn, client?: string | null): Admitted | null {
    if (this.refuse(conn, this.#deps.config(), client) !== null) return null;
    const admitted: { track: TrackedConnection; close: () => void } = {
      track: null!,
      close: () => conn.close(),
    };
    admitted.track = new TrackedConnection(this.name, "http", () => admitted.close());
    this.registry.add(admitted.track);
    return admitted;
  }

  #client(conn: Deno.Conn, tls: boolean, peer?: RelayedPeer): ClientInfo {
    const addr = peer ?? connEnds(conn).peer;
    return {
      address: addr.address,
      port: addr.port,
      entrypoint: this.name,
      tls,
      serverName: peer?.serverName ?? null,
    };
  }

  #serveH1(
    conn: Deno.Conn,
    track: TrackedConnection,
    tls: boolean,
    peer?: RelayedPeer,
    io?: BufferedConn,
  ): void {
    serveH1(conn, {
      client: this.#client(conn, tls, peer),
      io,
      track,
      registry: this.registry,
      limits: this.#deps.limits,
      handler: this.#deps.handler,
      onRejected: this.#deps.onRejected,
    });
  }

  #serveH2(
    conn: Deno.Conn,
    admitted: Admitted,
    tls: boolean,
    peer?: RelayedPeer,
    initialBytes?: Uint8Array,
  ): void {
    const { track } = admitted;
    const limits = this.#deps.limits;
    track.writeIdleMs = limits().sendIdleMs;
    const idle = () => {
      track.state = "idle";
      track.deadline = monotonicNow() + limits().keepAliveIdleMs;
    };
    idle();
    const client = this.#client(conn, tls, peer);
    const events = this.#h2Events;
    const front = new H2Front(conn, {
      handler: this.#deps.handler,
      client,
      trackTunnel: (route) => {
        // A WebSocket on a stream: a tunnel of its own in the registry (deadline, route drain),
        // not another connection toward the limits (its HTTP/2 connection is one already).
        let close = () => {};
        const tunnel = new TrackedConnection(this.name, "http", () => close(), { counted: false });
        tunnel.state = "tunnel";
        tunnel.route = route;
        this.registry.add(tunnel);
        return {
          set onClose(fn: (() => void) | null) {
            close = fn ?? (() => {});
          },
          get onClose() {
            return close;
          },
          set deadline(ms: number) {
            tunnel.deadline = ms;
          },
          get deadline() {
            return tunnel.deadline;
          },
          finish: () => this.registry.delete(tunnel),
        };
      },
      engine: {
        initialBytes,
        // A client that takes no byte for timeouts.body_idle is closed (one write at a time
        // goes to the socket, whatever stream it carries).
        writeWatch: track,
        stats: this.#deps.h2Stats,
        onEvent: (event) => events.report(event, client),
        // Streams that wait on the client alone (their response is out and the client has not
        // ended its side, or the client opens no window for the rest of it) do not keep the
        // deadline off: a client that lets keep_alive_idle pass without progress is closed.
        // The connection stays busy, so a shutdown still drains it.
        onStreamCount: (open, awaitingClient) => {
          if (open === 0) {
            idle();
          } else if (open <= awaitingClient) {
            track.state = "active";
            track.deadline = monotonicNow() + limits().keepAliveIdleMs;
          } else if (track.state !== "active" || track.deadline !== 0) {
            track.state = "active";
            track.deadline = 0;
          }
        },
      },
    });
    const h2 = front.connection;
    track.onDrain = () => void h2.shutdown();
    admitted.close = () => {
      // A deadline: requests still running end first (the pipeline answers them), then the
      // connection closes with them, or CUT_GRACE_MS later at the latest.
      if (!front.cut(DEADLINE_CUT)) {
        h2.close();
        return;
      }
      void h2.shutdown();
      const timer = setTimeout(() => h2.close(), CUT_GRACE_MS);
      void h2.closed.then(() => clearTimeout(timer));
    };
    void h2.closed.then(() => {
      // The connection is over, not cut by a deadline: a request still waiting for its upstream
      // has nobody to answer, and ends as the client's doing (499).
      admitted.close = () => {};
      front.cut(CONNECTION_ENDED);
      track.close();
      this.registry.delete(track);
    });
  }
}

const CONNECTION_ENDED = new DOMException("the client connection ended", "AbortError");
