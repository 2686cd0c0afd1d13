/**
 * A service at run time: its servers (state and connections), its selection policy and its
 * health checker. A reload builds a new ServiceRuntime but adopts the servers whose address and
 * connection settings did not change, so their health, ejections and idle connections survive.
 */
import type { Service } from "../config/types.ts";
import type { ConnectionRegistry } from "../net/connections.ts";
import { dialUpstream } from "../tls/upstream.ts";
import { ConnPool } from "./conn_pool.ts";
import { HealthChecker, type ProbeResult } from "./health.ts";
import { createPolicy, type PickContext, type SelectionPolicy } from "./select.ts";
import { UpstreamServer } from "./server_state.ts";

export interface ServiceDeps {
  /** Sweeps upstream connection deadlines. */
  readonly registry: ConnectionRegistry;
  /** TCP+TLS connect limit, from the live config. */
  readonly connectTimeoutMs: () => number;
  /** Active health transitions, for logs and metrics. */
  readonly onHealthChange: (service: string, server: UpstreamServer, result: ProbeResult) => void;
}

export class ServiceRuntime {
  readonly config: Service;
  readonly servers: readonly UpstreamServer[];
  readonly #policy: SelectionPolicy;
  readonly #health: HealthChecker | null;

  constructor(config: Service, deps: ServiceDeps, previous?: ServiceRuntime) {
    this.config = config;
    const adopt = new Map<string, UpstreamServer>();
    for (const s of previous?.servers ?? []) adopt.set(serverKey(previous!.config, s.url), s);
    this.servers = config.servers.map((ref) => {
      const kept = adopt.get(serverKey(config, ref.url));
      if (kept && kept.weight === ref.weight) return kept;
      const pool = new ConnPool({
        dial: (signal) =>
          dialUpstream(
            ref,
            config.tls,
            AbortSignal.any([signal, AbortSignal.timeout(deps.connectTimeoutMs())]),
          ),
        registry: deps.registry,
        label: config.name,
        maxIdle: config.keepAlive.maxIdlePerServer,
        idleTimeoutMs: config.keepAlive.idleTimeout,
      });
      return new UpstreamServer(ref, pool);
    });
    this.#policy = createPolicy(config.balancing);
    this.#health = config.healthCheck === null ? null : new HealthChecker(
      config.healthCheck,
      this.servers,
      (ref, signal) =>
        dialUpstream(
          ref,
          config.tls,
          AbortSignal.any([signal, AbortSignal.timeout(deps.connectTimeoutMs())]),
        ),
      (server, result) => deps.onHealthChange(config.name, server, result),
    );
    if (this.#health === null) { for (const s of this.servers) s.setHealthy(true); }
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
    for (const s of this.servers) if (!kept.has(s)) s.pool.close();
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
  return [url, t.caPem, t.serverName, t.insecureSkipVerify, k.maxIdlePerServer, k.idleTimeout]
    .join("\u0000");
}
