/**
 * A service at run time: its servers (state), the transport that reaches each of them, its
 * selection policy and its health checker. A reload builds a new ServiceRuntime but adopts the
 * servers whose address and connection settings did not change, so their health, ejections and
 * idle connections survive.
 */
import type { PassiveHealth, Service } from "../config/types.ts";
import { HealthChecker } from "./health.ts";
import { createPolicy, type PickContext, type SelectionPolicy } from "./select.ts";
import type { ServerCell } from "./server_cells.ts";
import { UpstreamServer } from "./server_state.ts";
import {
  type HttpTransport,
  isHttpTransport,
  type ProbeResult,
  type Transport,
  type TransportDeps,
} from "./transport.ts";
import { transportFor } from "./transport_for.ts";

export interface ServiceDeps extends TransportDeps {
  /** Active health transitions, for logs and metrics. */
  readonly onHealthChange: (service: string, server: UpstreamServer, result: ProbeResult) => void;
  /** A failure took a server out by passive health (not when it was out already): for logs. */
  readonly onEjected?: (service: string, server: UpstreamServer, passive: PassiveHealth) => void;
  /**
   * The health cell of a new (not adopted) server, by its index in `config.servers`; absent: a
   * cell of this isolate's own. Worker isolates get cells shared with the main isolate, which
   * runs the health checks and adopts servers by the same rule.
   */
  readonly cellFor?: (index: number) => ServerCell;
  /** Run active health checks here (default true; worker isolates leave them to the main one). */
  readonly activeChecks?: boolean;
}

export class ServiceRuntime {
  readonly config: Service;
  readonly servers: readonly UpstreamServer[];
  readonly #transports: Map<UpstreamServer, Transport>;
  readonly #policy: SelectionPolicy;
  readonly #health: HealthChecker | null;
  readonly #onEjected: ServiceDeps["onEjected"];

  constructor(config: Service, deps: ServiceDeps, previous?: ServiceRuntime) {
    this.config = config;
    this.#onEjected = deps.onEjected;
    const adopt = new Map<string, UpstreamServer>();
    for (const s of previous?.servers ?? []) adopt.set(serverKey(previous!.config, s.url), s);
    this.#transports = new Map();
    this.servers = config.servers.map((ref, index) => {
      const kept = adopt.get(serverKey(config, ref.url));
      if (kept && kept.weight === ref.weight) {
        this.#transports.set(kept, previous!.transport(kept));
        return kept;
      }
      const server = new UpstreamServer(ref, deps.cellFor?.(index));
      this.#transports.set(server, transportFor(ref, config, deps));
      return server;
    });
    this.#policy = createPolicy(config.balancing);
    const check = deps.activeChecks === false ? null : config.healthCheck;
    this.#health = check === null ? null : new HealthChecker(
      check,
      this.servers,
      (server, signal) => this.transport(server).probe(check, signal),
      (server, result) => deps.onHealthChange(config.name, server, result),
    );
    if (config.healthCheck === null) { for (const s of this.servers) s.setHealthy(true); }
  }

  /** How to reach `server` (one of this service's). */
  transport(server: UpstreamServer): Transport {
    const t = this.#transports.get(server);
    if (t === undefined) {
      throw new Error(`Cannot reach ${server.url}: not a server of "${this.name}"`);
    }
    return t;
  }

  /** The HTTP transport of `server`; a `tcp://` server has none. */
  http(server: UpstreamServer): HttpTransport {
    const t = this.transport(server);
    if (!isHttpTransport(t)) throw new Error(`Cannot send HTTP to ${server.url}: a TCP server`);
    return t;
  }

  get name(): string {
    return this.config.name;
  }

  /** Starts active health checks (if configured). */
  start(): void {
    this.#health?.start();
  }

  /** Stops health checks; closes the idle connections of servers the next runtime did not adopt. */
  stop(next?: ServiceRuntime): void {
    this.#health?.stop();
    const kept = new Set(next?.servers ?? []);
    for (const [s, t] of this.#transports) if (!kept.has(s)) t.close();
  }

  /**
   * A server for a request. When passive ejection has taken out every server that active checks
   * call healthy, the ejected ones are used anyway ("panic" routing, as Envoy does): a few
   * failures under load must not turn into answering 503 to everyone for `eject_for`. Servers
   * that active health checks mark down are never used.
   */
  pick(ctx: PickContext): UpstreamServer | null {
    return this.#policy.pick(this.servers, ctx) ??
      this.#policy.pick(this.servers, { ...ctx, ignoreEjection: true });
  }

  /** A transport failure or timeout on `server`: passive health counts it (and may eject). */
  recordFailure(server: UpstreamServer, now: number): void {
    const passive = this.config.passiveHealth;
    if (server.recordFailure(passive, now)) this.#onEjected?.(this.name, server, passive!);
  }

  /** Seconds a client should wait when no server is available (for Retry-After). */
  retryAfterSeconds(now: number): number {
    let soonest = Infinity;
    for (const s of this.servers) {
      if (s.healthy && s.ejectedUntil > now) soonest = Math.min(soonest, s.ejectedUntil - now);
    }
    if (soonest === Infinity) soonest = this.config.healthCheck?.interval ?? 10_000;
    return Math.max(1, Math.ceil(soonest / 1000));
  }
}

/** Servers are adopted across reloads only when everything about their connections is equal. */
function serverKey(service: Service, url: string): string {
  const t = service.tls;
  const k = service.keepAlive;
  return [
    url,
    t.caPem,
    t.serverName,
    t.insecureSkipVerify,
    k.maxIdlePerServer,
    k.idleTimeout,
    service.httpProtocol,
  ].join("\u0000");
}
