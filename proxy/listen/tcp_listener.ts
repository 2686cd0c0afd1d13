/**
 * The listener side of TCP streams: one TCP entrypoint, or an HTTPS entrypoint that also has
 * passthrough routes. Each accepted connection is admitted (limits), then, when needed, looked
 * at before a route is chosen:
 *   1. a PROXY protocol header, from a trusted load balancer (required from those, refused from
 *      anyone else);
 *   2. the TLS ClientHello, for its server name (SNI), when routes are chosen by name.
 * Then it is forwarded raw (plain TCP, or TLS passthrough with the peeked bytes first), or TLS
 * is terminated and the plain bytes forwarded, or (HTTPS entrypoints) it goes to HTTPS.
 *
 * Terminating TLS after looking at the bytes goes through a relay to an internal TLS listener
 * (tls/relay.ts); a TCP entrypoint that needs no look (TLS, one route, no PROXY header) uses
 * its own TLS listener instead.
 *
 * Tested by tcp_listener_test.ts, tcp_sni_test.ts, tcp_proxy_protocol_test.ts, tcp_reload_test.ts
 * and tcp_bulk_test.ts.
 */
import type { Config, Entrypoint, TcpRoute } from "../config/types.ts";
import { inCidrs } from "../net/cidr.ts";
import { MAX_HELLO_BYTES, parseClientHello, startsLikeTls } from "../tcp/client_hello.ts";
import { type Decision, Preamble } from "../tcp/preamble.ts";
import {
  decodeProxyHeader,
  NoProxyHeaderConn,
  proxyHeaderStart,
  UNTRUSTED_HEADER,
} from "../tcp/proxy_protocol.ts";
import { AcceptLoops } from "../net/accept.ts";
import { connEnds, UnixSocketListener } from "../net/unix_socket.ts";
import { TcpRouter } from "../tcp/router.ts";
import { refusedRecord, TcpSession } from "../tcp/session.ts";
import { CertStore } from "../tls/cert_store.ts";
import { TlsRelay } from "../tls/relay.ts";
import { probePort, releasePort, TlsEndpoint } from "../tls/server.ts";
import type { TcpRecord } from "../telemetry/records.ts";
import type { ServiceRuntime } from "../upstream/service.ts";
import type { HttpListener, RelayedPeer } from "./http_listener.ts";
import {
  bindOrExplain,
  INTERNAL_ADDRESS,
  internalOf,
  Listener,
  type ListenerDeps,
} from "./listener.ts";
import type { ListenerKind } from "./listener_kind.ts";
import { monotonicNow } from "../clock.ts";

/** A v2 header is at most 16 + 65535 bytes. */
const MAX_PROXY_HEADER = 16 + 65_535;

export interface TcpListenerDeps extends ListenerDeps {
  /** The live config and services. */
  readonly snapshot: () => {
    readonly config: Config;
    readonly services: ReadonlyMap<string, ServiceRuntime>;
  };
  /** Every finished TCP connection (access log, metrics). */
  readonly onClosed: (record: TcpRecord) => void;
  /** HTTPS entrypoints with passthrough routes: the HTTPS side, on an internal listener. */
  readonly https?: { readonly runtime: HttpListener; readonly relay: TlsRelay<RelayedPeer> };
}

/** What the internal TLS listener of a TCP entrypoint needs to go on with a relayed stream. */
interface RelayedStream {
  readonly session: TcpSession;
  readonly route: TcpRoute;
  readonly service: ServiceRuntime;
}

export class TcpListener extends Listener {
  readonly port: number;
  readonly #deps: TcpListenerDeps;
  readonly #plain: Deno.TcpListener | null = null;
  /** The entrypoint's unix socket, in place of #plain. */
  readonly #unix: UnixSocketListener | null = null;
  readonly #loops = new AcceptLoops();
  /** "tcp+tls": the public TLS listener; "tcp" with tls: the internal one behind the relay. */
  readonly #tls: TlsEndpoint | null = null;
  readonly #relay = new TlsRelay<RelayedStream>();
  #router: { config: Config; router: TcpRouter } | null = null;

  /** Binds the entrypoint's address; throws a readable error if it cannot. */
  constructor(config: Entrypoint, kind: ListenerKind, deps: TcpListenerDeps) {
    super(config, kind, deps);
    this.#deps = deps;
    const { hostname, port } = config.address;
    try {
      if (config.unix !== null) {
        const unix = config.unix;
        this.#unix = bindOrExplain(
          config,
          () => UnixSocketListener.open(unix, (c) => this.#onPlain(c), this.acceptFailed),
        );
        this.port = 0;
        if (config.tls !== null) {
          const { hostname: h, port: p } = INTERNAL_ADDRESS;
          this.#tls = bindOrExplain(
            config,
            () => this.#openTls(h, p, (c) => this.#onRelayedTls(c)),
          );
        }
      } else if (kind === "tcp+tls") {
        this.#tls = bindOrExplain(
          config,
          () => this.#openTls(hostname, port, (conn) => this.#onDirectTls(conn)),
        );
        this.port = this.#tls.port;
      } else {
        // SO_REUSEPORT lets a reload replace this listener on the same port (see releasePort).
        this.#plain = bindOrExplain(config, () => {
          const bound = probePort(hostname, port);
          return Deno.listen({ hostname, port: bound, reusePort: true });
        });
        this.port = this.#plain.addr.port;
        if (kind === "tcp" && config.tls !== null) {
          const { hostname: h, port: p } = INTERNAL_ADDRESS;
          this.#tls = bindOrExplain(
            config,
            () => this.#openTls(h, p, (c) => this.#onRelayedTls(c)),
          );
        }
        this.#accept(this.#plain);
      }
    } catch (err) {
      this.close();
      throw err;
    }
  }

  canUpdate(next: Entrypoint, kind: ListenerKind): boolean {
    const https = this.#deps.https?.runtime;
    return kind === this.kind && this.sameAddress(next) &&
      (https === undefined || https.canUpdate(internalOf(next), "http"));
  }

  update(next: Entrypoint): void {
    this.config = next;
    if (this.#tls !== null && next.tls !== null) this.#tls.setCertificates(new CertStore(next.tls));
    if (next.unix !== null) this.#unix?.update(next.unix);
    this.#deps.https?.runtime.update(internalOf(next));
  }

  /** The HTTPS side's certificates (a TCP entrypoint's own come only from files). */
  refreshCertificates(): void {
    this.#deps.https?.runtime.update(internalOf(this.config));
  }

  override async closed(): Promise<void> {
    await Promise.all([this.#loops.ended(), this.#tls?.closed()]);
  }

  close(): void {
    if (this.#plain !== null) releasePort(this.config.address.hostname, this.port);
    try {
      this.#plain?.close();
    } catch {
      // already closed
    }
    this.#unix?.close();
    this.#tls?.close();
    this.#deps.https?.runtime.close();
  }

  #openTls(hostname: string, port: number, onConnection: (c: Deno.TlsConn) => void) {
    const store = new CertStore(this.config.tls!);
    return TlsEndpoint.open({
      hostname,
      port,
      alpn: [],
      store,
      onConnection,
      onAcceptFailure: this.acceptFailed,
    });
  }

  #routerFor(config: Config): TcpRouter {
    if (this.#router?.config !== config) {
      this.#router = { config, router: new TcpRouter(config.tcpRoutes, this.name) };
    }
    return this.#router.router;
  }

  #accept(listener: Deno.TcpListener): void {
    this.#loops.start(listener, (conn) => this.#onPlain(conn), undefined, this.acceptFailed);
  }

  /** A new session, or null when the connection was refused (and closed, and reported). */
  #admit(conn: Deno.Conn, config: Config): TcpSession | null {
    const refused = this.refuse(conn, config);
    if (refused !== null) {
      this.#deps.onClosed(refusedRecord(this.name, conn, refused));
      return null;
    }
    return new TcpSession(this.name, conn, {
      registry: this.registry,
      onClosed: this.#deps.onClosed,
    });
  }

  /** A connection accepted on the entrypoint's TCP port or unix socket. */
  async #onPlain(conn: Deno.Conn): Promise<void> {
    const snap = this.#deps.snapshot();
    const { config } = snap;
    const session = this.#admit(conn, config);
    if (session === null) return;
    if (conn.localAddr.transport === "tcp") (conn as Deno.TcpConn).setNoDelay(true);
    const start = monotonicNow();
    session.track.deadline = start + config.timeouts.tlsHandshake;
    const pre = new Preamble(conn);
    const router = this.#routerFor(config);
    const bySni = this.kind === "https+passthrough" || router.bySni;
    const peer = connEnds(conn).peer;
    let client: Deno.Conn | NoProxyHeaderConn = conn;

    const proxy = this.config.proxyProtocol;
    if (proxy !== null && inCidrs(peer.address, proxy.trusted)) {
      const r = await pre.readUntil(decodeProxyHeader, {
        deadline: start + config.timeouts.headerRead,
        maxBytes: MAX_PROXY_HEADER,
        what: "PROXY protocol header",
      });
      if (r.status !== "ok") return session.fail("proxy_protocol", r.reason);
      pre.consume(r.length);
      if (r.header.source !== null) session.client = r.header.source;
      if (r.header.destination !== null) session.destination = r.header.destination;
    } else if (proxy !== null && bySni) {
      const r = await pre.readUntil(noProxyHeader, {
        deadline: start + config.timeouts.tlsHandshake,
        maxBytes: MAX_HELLO_BYTES,
        what: "first bytes",
      });
      if (r.status !== "ok") return session.fail("proxy_protocol", r.reason);
    } else if (proxy !== null) {
      client = new NoProxyHeaderConn(conn, (reason) => session.refuse("proxy_protocol", reason));
    }

    let route = router.fallback;
    if (bySni) {
      const r = await pre.readUntil(parseClientHello, {
        deadline: start + config.timeouts.tlsHandshake,
        maxBytes: MAX_HELLO_BYTES,
        what: "TLS ClientHello",
      });
      if (r.status === "ok") {
        session.sni = r.hello.sni;
        route = router.match(r.hello.sni);
      } else if (r.status === "stopped" || this.config.tls !== null || startsLikeTls(pre.bytes)) {
        // Only bytes that are not TLS at all go on to the default route.
        return session.fail("client_hello", r.reason);
      }
    }

    if (this.kind === "https+passthrough" && !route?.passthrough) {
      return this.#toHttps(session, conn, pre.bytes);
    }
    if (route === null) {
      const name = session.sni === null ? "no server name" : `server name "${session.sni}"`;
      return session.fail("no_route", `no tcp route for ${name} on this entrypoint`);
    }
    const service = snap.services.get(route.service)!;
    if (this.config.tls !== null && !route.passthrough) {
      return this.#terminate(session, conn, pre.bytes, { session, route, service });
    }
    if (route.passthrough && session.sni !== null) session.tls = "passthrough";
    await session.forward(route, service, client, pre.bytes);
  }

  /** TCP+TLS with one route: the listener terminated TLS. */
  async #onDirectTls(conn: Deno.TlsConn): Promise<void> {
    const snap = this.#deps.snapshot();
    const session = this.#admit(conn, snap.config);
    if (session === null) return;
    session.track.deadline = monotonicNow() + snap.config.timeouts.tlsHandshake;
    try {
      await conn.handshake();
    } catch (err) {
      return session.fail("tls_handshake", (err as Error).message);
    }
    session.tls = "terminated";
    const route = this.#routerFor(snap.config).fallback;
    if (route === null) return session.fail("no_route", "no tcp route on this entrypoint");
    await session.forward(route, snap.services.get(route.service)!, conn);
  }

  /** Relays the connection to the internal TLS listener, which goes on in #onRelayedTls. */
  #terminate(session: TcpSession, conn: Deno.Conn, first: Uint8Array, ctx: RelayedStream): void {
    session.tls = "terminated";
    this.#relay.relay(conn, { port: this.#tls!.port, first, context: ctx }).then((ok) => {
      if (!ok) session.fail("tls_handshake", "the internal TLS listener cannot be reached");
    });
  }

  async #onRelayedTls(conn: Deno.TlsConn): Promise<void> {
    const link = await this.#relay.claim(conn);
    if (link === undefined) {
      try {
        conn.close();
      } catch {
        // already closed
      }
      return;
    }
    const { session, route, service } = link.context;
    const drainMs = this.#deps.snapshot().config.timeouts.drain;
    session.onEnd((clean) => clean ? link.finish(drainMs) : link.close());
    session.onEnd((clean) => clean || conn.close());
    try {
      await conn.handshake();
    } catch (err) {
      return session.fail("tls_handshake", (err as Error).message);
    }
    await session.forward(route, service, conn);
  }

  /** HTTPS with passthrough routes: a ClientHello no passthrough route took goes to HTTPS. */
  #toHttps(session: TcpSession, conn: Deno.Conn, first: Uint8Array): void {
    const https = this.#deps.https!;
    const config = this.#deps.snapshot().config;
    https.relay.relay(conn, {
      port: https.runtime.port,
      first,
      context: { ...session.client, serverName: session.sni },
      onClaim: () => session.handOver(),
      endWithInner: { graceMs: config.timeouts.drain },
    }).then((ok) => {
      if (!ok) session.fail("tls_handshake", "the internal HTTPS listener cannot be reached");
      else session.handOver();
    });
  }
}

/** "ok" once the first bytes are known not to start a PROXY protocol header. */
function noProxyHeader(bytes: Uint8Array): Decision<Record<never, never>> {
  const start = proxyHeaderStart(bytes);
  if (start === "maybe") return { status: "incomplete" };
  return start === "yes" ? { status: "invalid", reason: UNTRUSTED_HEADER } : { status: "ok" };
}
