/**
 * Gatehouse at run time: the current routing snapshot, the entrypoints and the services.
 *
 * `apply` swaps in a new configuration without a restart: services whose servers did not
 * change keep their state, unchanged entrypoints keep their listeners (certificate changes
 * apply to new handshakes), added entrypoints start listening, removed ones stop accepting and
 * their connections drain. Requests in progress finish on the snapshot they started with.
 *
 * `apply` is `prepare` then `commit`: prepare builds the snapshot and binds the new listeners
 * (or throws, changing nothing), commit swaps the snapshot in and retires what the config no
 * longer has, abort undoes a prepare. The main isolate prepares every worker isolate before it
 * commits any, so a listener that cannot bind in one worker changes nothing in any.
 *
 * Tested by reloader_test.ts, reload_torture_test.ts and the listen/ tests (testing/proxy.ts starts
 * a Runtime for each).
 */
import type { CertificateFile, Config } from "../config/types.ts";
import type { InternalService, RequestCount, Snapshot } from "../http/context.ts";
import { setCodecMemory } from "../http/compress/codecs.ts";
import { createPipeline } from "../http/pipeline.ts";
import { createRejectionLog } from "../http/request_log.ts";
import { Router } from "../http/router.ts";
import { type Generation, MiddlewareSet } from "../http/middlewares/set.ts";
import { localLimitStore } from "../net/limit_store.ts";
import { SharedLimitStore } from "../net/shared_limit_store.ts";
import { log, logTcp, logUdp } from "../telemetry/log.ts";
import type { AccessRecord, TcpRecord, UdpRecord } from "../telemetry/records.ts";
import { TlsRelay } from "../tls/relay.ts";
import { ServiceRuntime } from "../upstream/service.ts";
import type { ServerCell } from "../upstream/server_cells.ts";
import { ConnectionRegistry } from "../net/connections.ts";
import { createH2Stats, type H2Stats } from "../proto/h2/guard.ts";
import type { ConnectionCounts } from "../net/connection_counts.ts";
import { CounterStore } from "../net/shared_counters.ts";
import { HttpListener, type RelayedPeer } from "../listen/http_listener.ts";
import { internalOf, type Listener, type Refusal } from "../listen/listener.ts";
import { listenerKind } from "../listen/listener_kind.ts";
import { TcpListener, type TcpListenerDeps } from "../listen/tcp_listener.ts";
import { UdpListener } from "../listen/udp_listener.ts";
import type { AcceptFailure } from "../net/accept.ts";
import { AcceptFailures } from "./open_files.ts";
import { autoRequests } from "./connection_budget.ts";
import { monotonicNow } from "../clock.ts";

const logger = log("runtime");

export interface RuntimeHooks {
  /** Every finished request, refused ones included (metrics), after its access log line. */
  readonly onComplete?: (record: AccessRecord) => void;
  /** Built-in services routes may name ("metrics@internal"). */
  readonly internal?: ReadonlyMap<string, InternalService>;
  /** A connection refused at accept time (metrics). */
  readonly onRefused?: (entrypoint: string, refusal: Refusal) => void;
  /** An accept that failed beyond one client, out of file descriptors say (metrics). */
  readonly onAcceptFailure?: (entrypoint: string, failure: AcceptFailure) => void;
  /** Every finished TCP connection (metrics), after its access log line. */
  readonly onTcpClosed?: (record: TcpRecord) => void;
  /** A UDP session ended. */
  readonly onUdpClosed?: (record: UdpRecord) => void;
  /** Automatic HTTPS (proxy/acme/manager.ts): HTTP-01 answers and obtained certificates. */
  readonly acme?: {
    challenge(token: string): string | null | Promise<string | null>;
    certificates(entrypoint: string): readonly CertificateFile[];
  };
}

/** What a runtime shares with other isolates (defaults: kept in this isolate). */
export interface RuntimeOptions {
  /** Client connection counts the limits read (shared by worker isolates). */
  readonly connections?: ConnectionCounts;
  /** Run active health checks (default true; worker isolates leave them to the main one). */
  readonly activeChecks?: boolean;
  /**
   * The counter store for state that is one number across workers. Given, rate_limit and
   * in_flight_limit keep their state in it (net/shared_limit_store.ts), so the limits hold across
   * every isolate that shares it; else in this isolate's memory (net/limit_store.ts).
   */
  readonly counters?: CounterStore;
  /**
   * Open the entrypoints' listeners (default true). The main isolate of a multi-worker
   * Gatehouse opens none: it builds snapshots for health checks, status and metrics only.
   */
  readonly listen?: boolean;
  /**
   * Open only the listeners several worker isolates can share (SO_REUSEPORT): not UDP or unix
   * socket entrypoints, which the first worker alone opens (default false).
   */
  readonly sharedOnly?: boolean;
  /** Where the ports of entrypoints this runtime does not listen on are (the workers' ports). */
  readonly portOf?: (entrypoint: string) => number | undefined;
  /**
   * What `limits.max_connections: auto` stands for (connection_budget.ts, worked out once by
   * the main isolate); 0 or absent = no limit.
   */
  readonly autoConnections?: number;
}

/** What one config change needs besides the config (worker isolates). */
export interface ApplyOptions {
  /**
   * Ports to bind for entrypoints whose config says port 0, as the first worker bound them:
   * every worker listens on the same port.
   */
  readonly ports?: Readonly<Record<string, number>>;
  /** The health cell of a new server, by service and index (shared with the main isolate). */
  readonly cellFor?: (service: string, index: number) => ServerCell;
}

/** A config change whose listeners are bound: commit it, or abort it. */
export interface PreparedApply {
  /** The snapshot `commit` swaps in. */
  readonly snapshot: Snapshot;
  /** Swaps the new snapshot in and retires what the config no longer has. */
  commit(): void;
  /** Closes what the prepare opened and reopens what it replaced; nothing changed. */
  abort(): void;
}

/**
 * The limit table of open connections per client address (`limits.max_connections_per_client`):
 * its partition ("@" keeps it apart from middlewares' names) and the keys an isolate's own holds.
 */
const CLIENT_COUNTS = "@client-connections";
const CLIENT_COUNT_KEYS = 65_536;

/** Entries of the counter store a runtime makes for itself (when none is shared). */
const COUNTER_ENTRIES = 65_536;

export class Runtime {
  /** Client connections: deadlines, limits, drain. */
  readonly clients: ConnectionRegistry;
  /** Upstream connections: deadlines only. */
  readonly upstreams = new ConnectionRegistry();
  readonly #hooks: RuntimeHooks;
  readonly #options: RuntimeOptions;
  readonly #entrypoints = new Map<string, Listener>();
  /** HTTP/2 counters per entrypoint name, kept across reloads and listener replacements. */
  readonly #h2Stats = new Map<string, H2Stats>();
  readonly #middlewares: MiddlewareSet;
  #counters: CounterStore | null;
  #snapshot: Snapshot;

  private constructor(snapshot: Snapshot, hooks: RuntimeHooks, options: RuntimeOptions) {
    this.#snapshot = snapshot;
    this.#hooks = hooks;
    const limits = options.counters ? new SharedLimitStore(options.counters) : localLimitStore;
    this.#middlewares = new MiddlewareSet({ limits });
    this.#options = options;
    this.clients = new ConnectionRegistry(
      options.connections,
      limits.table(CLIENT_COUNTS, CLIENT_COUNT_KEYS),
    );
    this.#counters = options.counters ?? null;
    const clients = this.clients;
    this.#requests = {
      auto: autoRequests(options.autoConnections ?? 0),
      admit: (max) => clients.admitRequest(max),
      end: () => clients.endRequest(),
    };
  }

  /** Builds everything and binds every entrypoint; throws (after closing what it opened) if one fails. */
  static start(
    config: Config,
    hooks: RuntimeHooks = {},
    options: RuntimeOptions = {},
    apply: ApplyOptions = {},
  ): Runtime {
    const rt = new Runtime(
      {
        config,
        routers: new Map(),
        services: new Map(),
        port: () => undefined,
        middlewares: () => [],
      },
      hooks,
      options,
    );
    try {
      rt.prepare(config, apply).commit();
    } catch (err) {
      rt.#middlewares.close();
      throw err;
    }
    return rt;
  }

  /**
   * The counter store for state that must be one number across worker isolates (rate limits);
   * see net/shared_counters.ts.
   */
  get counters(): CounterStore {
    return this.#counters ??= CounterStore.local({ entries: COUNTER_ENTRIES });
  }

  get snapshot(): Snapshot {
    return this.#snapshot;
  }

  get config(): Config {
    return this.#snapshot.config;
  }

  /** The bound port of an entrypoint (the real one when the config said 0). */
  port(entrypoint: string): number | undefined {
    return this.#entrypoints.get(entrypoint)?.port ?? this.#options.portOf?.(entrypoint);
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
  apply(config: Config, options: ApplyOptions = {}): void {
    this.prepare(config, options).commit();
  }

  /**
   * Builds the snapshot of `config` and binds the listeners it adds or replaces; throws (having
   * changed nothing) if one cannot bind. Listeners bound here serve with the new snapshot at
   * once (their entrypoint is new, or changed kind); every other one keeps the running snapshot
   * until `commit`.
   */
  prepare(config: Config, options: ApplyOptions = {}): PreparedApply {
    const old = this.#snapshot;
    const [next, middlewares] = this.#build(config, old.services, options.cellFor);
    let early: Snapshot | null = next;
    const snapshot = () => early ?? this.#snapshot;
    const opened: string[] = [];
    const replaced: Listener[] = [];
    const rollback = () => {
      for (const name of opened) {
        this.#entrypoints.get(name)?.close();
        this.#entrypoints.delete(name);
      }
      for (const ep of replaced) this.#open(ep.name, old.config, () => this.#snapshot);
      for (const s of next.services.values()) if (!old.services.has(s.name)) s.stop();
      this.#middlewares.discard(middlewares);
    };
    try {
      for (const ep of Object.values(config.entrypoints)) {
        const current = this.#entrypoints.get(ep.name);
        if (current === undefined) {
          this.#open(ep.name, config, snapshot, options.ports?.[ep.name]);
          opened.push(ep.name);
        } else if (!current.canUpdate(ep, listenerKind(config, ep.name))) {
          current.close();
          replaced.push(current);
          this.#entrypoints.delete(ep.name);
          this.#open(ep.name, config, snapshot, current.port);
          opened.push(ep.name);
        }
      }
    } catch (err) {
      rollback();
      throw err;
    }
    let done = false;
    return {
      snapshot: next,
      commit: () => {
        if (done) return;
        done = true;
        early = null;
        this.#commit(old, next, middlewares, opened);
      },
      // Connections a listener of this prepare accepted meanwhile finish on `next`.
      abort: () => {
        if (done) return;
        done = true;
        rollback();
      },
    };
  }

  #commit(
    old: Snapshot,
    next: Snapshot,
    middlewares: Generation,
    opened: readonly string[],
  ): void {
    const config = next.config;
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
    setCodecMemory(config.compressionMemory);
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
    // The ports are free for another process once this resolves (net/accept.ts, AcceptLoops).
    await Promise.all([...this.#entrypoints.values()].map((ep) => ep.closed()));
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

  /**
   * Opens the listener of entrypoint `name`, serving with `snapshot`, on `port` when given
   * (the port another worker bound for a config that said 0).
   */
  #open(name: string, config: Config, snapshot: () => Snapshot, port?: number): void {
    if (this.#options.listen === false) return;
    const kind = listenerKind(config, name);
    const configured = config.entrypoints[name];
    const entry = port === undefined || configured.address.port !== 0
      ? configured
      : { ...configured, address: { ...configured.address, port } };
    // UDP sockets and unix socket files cannot be shared through SO_REUSEPORT: the first worker
    // isolate alone serves them.
    if (this.#options.sharedOnly && (kind === "udp" || configured.unix !== null)) return;
    if (kind === "udp") {
      this.#entrypoints.set(
        name,
        new UdpListener(entry, {
          registry: this.clients,
          onRefused: this.#onRefused,
          autoConnections: this.#options.autoConnections,
          snapshot,
          onClosed: (record) => {
            logUdp(record);
            this.#hooks.onUdpClosed?.(record);
          },
        }),
      );
      return;
    }
    if (kind === "tcp" || kind === "tcp+tls") {
      this.#entrypoints.set(name, new TcpListener(entry, kind, this.#tcpDeps(snapshot)));
      return;
    }
    // HTTPS with passthrough routes: the HTTP side listens internally, behind a TCP front.
    const relay = kind === "https+passthrough" ? new TlsRelay<RelayedPeer>() : undefined;
    const ep = new HttpListener(relay ? internalOf(entry) : entry, {
      registry: this.clients,
      onRefused: this.#onRefused,
      autoConnections: this.#options.autoConnections,
      onAcceptFailure: this.#acceptFailures.report,
      handler: createPipeline(name, {
        snapshot,
        onComplete: this.#hooks.onComplete,
        internal: this.#hooks.internal,
        acmeChallenge: (token) => this.#hooks.acme?.challenge(token) ?? null,
        counters: this.counters,
        requests: this.#requests,
      }),
      limits: () => {
        const c = snapshot().config;
        return {
          headerReadMs: c.timeouts.headerRead,
          keepAliveIdleMs: c.timeouts.keepAliveIdle,
          maxHeaderBytes: c.limits.maxHeaderBytes,
          sendIdleMs: c.timeouts.bodyIdle,
        };
      },
      tlsHandshakeMs: () => snapshot().config.timeouts.tlsHandshake,
      config: () => snapshot().config,
      onRejected: createRejectionLog(name, this.#hooks.onComplete),
      relay,
      obtained: () => this.#hooks.acme?.certificates(name) ?? [],
      h2Stats: this.#h2StatsOf(name),
    });
    const https = relay ? { runtime: ep, relay } : undefined;
    this.#entrypoints.set(
      name,
      https ? new TcpListener(entry, kind, { ...this.#tcpDeps(snapshot), https }) : ep,
    );
  }

  #h2StatsOf(entrypoint: string): H2Stats {
    let stats = this.#h2Stats.get(entrypoint);
    if (stats === undefined) this.#h2Stats.set(entrypoint, stats = createH2Stats());
    return stats;
  }

  /** Requests in flight over all connections, for `limits.max_requests_in_flight`. */
  readonly #requests: RequestCount;

  /** A connection refused at accept time: counted, and logged at most once a second. */
  readonly #onRefused = (entrypoint: string, refusal: Refusal, detail: string): void => {
    this.#hooks.onRefused?.(entrypoint, refusal);
    const now = monotonicNow();
    if (now - this.#lastRefusalLog < 1000) return;
    this.#lastRefusalLog = now;
    logger.warning("Refusing connections on {entrypoint}: {detail}", { entrypoint, detail });
  };
  #lastRefusalLog = 0;

  readonly #acceptFailures = new AcceptFailures((entrypoint, failure) =>
    this.#hooks.onAcceptFailure?.(entrypoint, failure)
  );

  #tcpDeps(snapshot: () => Snapshot): TcpListenerDeps {
    return {
      registry: this.clients,
      onRefused: this.#onRefused,
      autoConnections: this.#options.autoConnections,
      onAcceptFailure: this.#acceptFailures.report,
      snapshot,
      onClosed: (record) => {
        logTcp(record);
        this.#hooks.onTcpClosed?.(record);
      },
    };
  }

  #build(
    config: Config,
    previous: ReadonlyMap<string, ServiceRuntime>,
    cellFor?: ApplyOptions["cellFor"],
  ): [Snapshot, Generation] {
    const services = new Map<string, ServiceRuntime>();
    for (const svc of Object.values(config.services)) {
      services.set(
        svc.name,
        new ServiceRuntime(svc, {
          registry: this.upstreams,
          activeChecks: this.#options.activeChecks,
          cellFor: cellFor && ((index) => cellFor(svc.name, index)),
          connectTimeoutMs: () => this.#snapshot.config.timeouts.connect,
          onHealthChange: (service, server, result) => {
            const up = server.healthy;
            logger[up ? "info" : "warning"](
              `Server {url} of service {service} is ${up ? "up" : "down"}: {detail}`,
              { url: server.url, service, detail: result.detail },
            );
          },
          onEjected: (service, server, passive) => {
            logger.warning(
              "Server {url} of service {service} is ejected for {seconds} s: it failed requests " +
                "(passive_health; it gets requests before then only when every server is out)",
              { url: server.url, service, seconds: passive.ejectFor / 1000 },
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
