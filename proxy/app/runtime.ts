/**
 * Gatehouse at run time: the current routing snapshot, the entrypoints and the services.
 *
 * `apply` swaps in a new configuration without a restart: services whose servers did not
 * change keep their state, unchanged entrypoints keep their listeners (certificate changes
 * apply to new handshakes), added entrypoints start listening, removed ones stop accepting and
 * their connections drain. Requests in progress finish on the snapshot they started with.
 *
 * Tested by reloader_test.ts, reload_torture_test.ts and the listen/ tests (testing/proxy.ts starts
 * a Runtime for each).
 */
import type { CertificateFile, Config } from "../config/types.ts";
import type { InternalService, Snapshot } from "../http/context.ts";
import { createPipeline } from "../http/pipeline.ts";
import { createRejectionLog } from "../http/request_log.ts";
import { Router } from "../http/router.ts";
import { type Generation, MiddlewareSet } from "../http/middlewares/set.ts";
import { type LimitStore, localLimitStore } from "../net/limit_store.ts";
import { log, logTcp, logUdp } from "../telemetry/log.ts";
import type { AccessRecord, TcpRecord, UdpRecord } from "../telemetry/records.ts";
import { TlsRelay } from "../tls/relay.ts";
import { ServiceRuntime } from "../upstream/service.ts";
import { ConnectionRegistry } from "../net/connections.ts";
import { createH2Stats, type H2Stats } from "../proto/h2/guard.ts";
import { HttpListener, type RelayedPeer } from "../listen/http_listener.ts";
import { internalOf, type Listener, type Refusal } from "../listen/listener.ts";
import { listenerKind } from "../listen/listener_kind.ts";
import { TcpListener, type TcpListenerDeps } from "../listen/tcp_listener.ts";
import { UdpListener } from "../listen/udp_listener.ts";

const logger = log("runtime");

export interface RuntimeHooks {
  /** Every finished request, refused ones included (metrics), after its access log line. */
  readonly onComplete?: (record: AccessRecord) => void;
  /** Built-in services routes may name ("metrics@internal"). */
  readonly internal?: ReadonlyMap<string, InternalService>;
  /** A connection refused at accept time (metrics). */
  readonly onRefused?: (entrypoint: string, refusal: Refusal) => void;
  /** Every finished TCP connection (metrics), after its access log line. */
  readonly onTcpClosed?: (record: TcpRecord) => void;
  /** A UDP session ended. */
  readonly onUdpClosed?: (record: UdpRecord) => void;
  /**
   * Where rate_limit and in_flight_limit keep their state; default: this isolate's memory. A
   * store shared by worker isolates makes the limits global.
   */
  readonly limitStore?: LimitStore;
  /** Automatic HTTPS (proxy/acme/manager.ts): HTTP-01 answers and obtained certificates. */
  readonly acme?: {
    challenge(token: string): string | null;
    certificates(entrypoint: string): readonly CertificateFile[];
  };
}

export class Runtime {
  /** Client connections: deadlines, limits, drain. */
  readonly clients = new ConnectionRegistry();
  /** Upstream connections: deadlines only. */
  readonly upstreams = new ConnectionRegistry();
  readonly #hooks: RuntimeHooks;
  readonly #entrypoints = new Map<string, Listener>();
  /** HTTP/2 counters per entrypoint name, kept across reloads and listener replacements. */
  readonly #h2Stats = new Map<string, H2Stats>();
  readonly #middlewares: MiddlewareSet;
  #snapshot: Snapshot;

  private constructor(snapshot: Snapshot, hooks: RuntimeHooks) {
    this.#snapshot = snapshot;
    this.#hooks = hooks;
    this.#middlewares = new MiddlewareSet({ limits: hooks.limitStore ?? localLimitStore });
  }

  /** Builds everything and binds every entrypoint; throws (after closing what it opened) if one fails. */
  static start(config: Config, hooks: RuntimeHooks = {}): Runtime {
    const rt = new Runtime(
      {
        config,
        routers: new Map(),
        services: new Map(),
        port: () => undefined,
        middlewares: () => [],
      },
      hooks,
    );
    const [snapshot, middlewares] = rt.#build(config, new Map());
    rt.#snapshot = snapshot;
    rt.#middlewares.commit(middlewares);
    try {
      for (const ep of Object.values(config.entrypoints)) rt.#open(ep.name, config);
    } catch (err) {
      for (const ep of rt.#entrypoints.values()) ep.close();
      for (const s of rt.#snapshot.services.values()) s.stop();
      rt.#middlewares.close();
      throw err;
    }
    for (const s of rt.#snapshot.services.values()) s.start();
    return rt;
  }

  get snapshot(): Snapshot {
    return this.#snapshot;
  }

  get config(): Config {
    return this.#snapshot.config;
  }

  /** The bound port of an entrypoint (the real one when the config said 0). */
  port(entrypoint: string): number | undefined {
    return this.#entrypoints.get(entrypoint)?.port;
  }

  /**
   * Open client connections with their protocol: "http", "websocket" (tunnels), "tcp" or "udp"
   * (sessions).
   */
  *clientConnections(): Iterable<{ entrypoint: string; protocol: string }> {
    for (const c of this.clients.values()) {
      const protocol = c.kind !== "http" ? c.kind : c.state === "tunnel" ? "websocket" : "http";
      yield { entrypoint: c.owner, protocol };
    }
  }

  /** Open upstream connections, labelled by service. */
  *upstreamConnections(): Iterable<{ service: string }> {
    for (const c of this.upstreams.values()) yield { service: c.owner };
  }

  /** HTTP/2 counters (defences, protocol errors) of every entrypoint that served HTTP/2. */
  *http2Counters(): Iterable<{ entrypoint: string; counters: Readonly<H2Stats> }> {
    for (const [entrypoint, counters] of this.#h2Stats) yield { entrypoint, counters };
  }

  /** Every server of every service with its health. */
  *servers(): Iterable<{ service: string; url: string; up: boolean }> {
    for (const s of this.#snapshot.services.values()) {
      for (const server of s.servers) yield { service: s.name, url: server.url, up: server.isUp() };
    }
  }

  /** Switches to `config`. Throws if a new listener cannot bind; the old config then stays. */
  apply(config: Config): void {
    const old = this.#snapshot;
    const [next, middlewares] = this.#build(config, old.services);
    const opened: string[] = [];
    const replaced: Listener[] = [];
    try {
      for (const ep of Object.values(config.entrypoints)) {
        const current = this.#entrypoints.get(ep.name);
        if (current === undefined) {
          this.#open(ep.name, config);
          opened.push(ep.name);
        } else if (!current.canUpdate(ep, listenerKind(config, ep.name))) {
          current.close();
          replaced.push(current);
          this.#entrypoints.delete(ep.name);
          this.#open(ep.name, config);
          opened.push(ep.name);
        }
      }
    } catch (err) {
      for (const name of opened) {
        this.#entrypoints.get(name)?.close();
        this.#entrypoints.delete(name);
      }
      for (const ep of replaced) this.#open(ep.name, old.config);
      for (const s of next.services.values()) if (!old.services.has(s.name)) s.stop();
      this.#middlewares.discard(middlewares);
      throw err;
    }
    for (const [name, ep] of this.#entrypoints) {
      const cfg = config.entrypoints[name];
      if (cfg === undefined) {
        ep.close();
        this.#entrypoints.delete(name);
        this.clients.drainEntrypoint(name, config.timeouts.drain);
        logger.info("Entrypoint {name} removed: no longer accepting", { name });
      } else if (!opened.includes(name)) {
        ep.update(cfg);
      }
    }
    this.#snapshot = next;
    this.#middlewares.commit(middlewares);
    for (const s of old.services.values()) s.stop(next.services.get(s.name));
    for (const s of next.services.values()) s.start();
    const all = (c: Config) => [...c.routes, ...c.tcpRoutes, ...c.udpRoutes];
    const kept = new Set(all(config).map((r) => r.name));
    for (const r of all(old.config)) {
      if (!kept.has(r.name)) this.clients.drainRoute(r.name, config.timeouts.drain);
    }
  }

  /** Rebuilds every TLS entrypoint's certificates (obtained ones changed); new handshakes see them. */
  refreshCertificates(): void {
    for (const ep of this.#entrypoints.values()) ep.refreshCertificates();
  }

  /** Stops accepting, lets requests and tunnels finish within the drain timeout, then closes all. */
  async shutdown(): Promise<void> {
    for (const ep of this.#entrypoints.values()) ep.close();
    const left = await this.clients.drain(this.config.timeouts.drain);
    if (left > 0) {
      logger.warning("{count} connections outlived the drain deadline; stopping anyway", {
        count: left,
      });
    }
    for (const s of this.#snapshot.services.values()) s.stop();
    this.#middlewares.close();
    await this.upstreams.drain(0);
  }

  #open(name: string, config: Config): void {
    const kind = listenerKind(config, name);
    const entry = config.entrypoints[name];
    if (kind === "udp") {
      this.#entrypoints.set(
        name,
        new UdpListener(entry, {
          registry: this.clients,
          onRefused: this.#onRefused,
          snapshot: () => this.#snapshot,
          onClosed: (record) => {
            logUdp(record);
            this.#hooks.onUdpClosed?.(record);
          },
        }),
      );
      return;
    }
    if (kind === "tcp" || kind === "tcp+tls") {
      this.#entrypoints.set(name, new TcpListener(entry, kind, this.#tcpDeps()));
      return;
    }
    // HTTPS with passthrough routes: the HTTP side listens internally, behind a TCP front.
    const relay = kind === "https+passthrough" ? new TlsRelay<RelayedPeer>() : undefined;
    const ep = new HttpListener(relay ? internalOf(entry) : entry, {
      registry: this.clients,
      onRefused: this.#onRefused,
      handler: createPipeline(name, {
        snapshot: () => this.#snapshot,
        onComplete: this.#hooks.onComplete,
        internal: this.#hooks.internal,
        acmeChallenge: (token) => this.#hooks.acme?.challenge(token) ?? null,
      }),
      limits: () => {
        const c = this.#snapshot.config;
        return {
          headerReadMs: c.timeouts.headerRead,
          keepAliveIdleMs: c.timeouts.keepAliveIdle,
          maxHeaderBytes: c.limits.maxHeaderBytes,
        };
      },
      tlsHandshakeMs: () => this.#snapshot.config.timeouts.tlsHandshake,
      config: () => this.#snapshot.config,
      onRejected: createRejectionLog(name, this.#hooks.onComplete),
      relay,
      obtained: () => this.#hooks.acme?.certificates(name) ?? [],
      h2Stats: this.#h2StatsOf(name),
    });
    const https = relay ? { runtime: ep, relay } : undefined;
    this.#entrypoints.set(
      name,
      https ? new TcpListener(entry, kind, { ...this.#tcpDeps(), https }) : ep,
    );
  }

  #h2StatsOf(entrypoint: string): H2Stats {
    let stats = this.#h2Stats.get(entrypoint);
    if (stats === undefined) this.#h2Stats.set(entrypoint, stats = createH2Stats());
    return stats;
  }

  /** A connection refused at accept time: counted, and logged at most once a second. */
  readonly #onRefused = (entrypoint: string, refusal: Refusal, detail: string): void => {
    this.#hooks.onRefused?.(entrypoint, refusal);
    const now = Date.now();
    if (now - this.#lastRefusalLog < 1000) return;
    this.#lastRefusalLog = now;
    logger.warning("Refusing connections on {entrypoint}: {detail}", { entrypoint, detail });
  };
  #lastRefusalLog = 0;

  #tcpDeps(): TcpListenerDeps {
    return {
      registry: this.clients,
      onRefused: this.#onRefused,
      snapshot: () => this.#snapshot,
      onClosed: (record) => {
        logTcp(record);
        this.#hooks.onTcpClosed?.(record);
      },
    };
  }

  #build(
    config: Config,
    previous: ReadonlyMap<string, ServiceRuntime>,
  ): [Snapshot, Generation] {
    const services = new Map<string, ServiceRuntime>();
    for (const svc of Object.values(config.services)) {
      services.set(
        svc.name,
        new ServiceRuntime(svc, {
          registry: this.upstreams,
          connectTimeoutMs: () => this.#snapshot.config.timeouts.connect,
          onHealthChange: (service, server, result) => {
            const up = server.healthy;
            logger[up ? "info" : "warning"](
              `Server {url} of service {service} is ${up ? "up" : "down"}: {detail}`,
              { url: server.url, service, detail: result.detail },
            );
          },
        }, previous.get(svc.name)),
      );
    }
    const routers = new Map<string, Router>();
    for (const ep of Object.values(config.entrypoints)) {
      routers.set(ep.name, new Router(config.routes, ep.name));
    }
    const middlewares = this.#middlewares.build(config);
    const snapshot = {
      config,
      routers,
      services,
      port: (name: string) => this.port(name),
      middlewares: middlewares.chain,
    };
    return [snapshot, middlewares];
  }
}
