/**
 * The state of one upstream server, and nothing else: health (active checks and passive
 * ejection) and work in flight, as plain counters and flags. Selection policies only read
 * `available()`, `inflight` and `weight`; connections belong to the server's transport.
 */
import type { PassiveHealth, ServerRef } from "../config/types.ts";
import { type InflightCounter, InflightLease } from "./inflight.ts";

export class UpstreamServer implements InflightCounter {
  readonly ref: ServerRef;
  readonly url: string;
  readonly weight: number;
  #inflight = 0;
  /** Result of active health checks; true until a check says otherwise. */
  healthy = true;
  /** Passive ejection: not selected before this time (epoch ms). */
  ejectedUntil = 0;
  /** After an ejection ends, one failure ejects again at once. */
  #probation = false;
  #failures: number[] = [];
  /** Called when `isUp()` may have changed (for the `service_server_up` gauge and logs). */
  onChange: (() => void) | null = null;

  constructor(ref: ServerRef) {
    this.ref = ref;
    this.url = ref.url;
    this.weight = ref.weight;
  }

  /** Requests, tunnels and streams started on this server and not finished. */
  get inflight(): number {
    return this.#inflight;
  }

  /** Counts one piece of work until the lease is released. */
  acquire(): InflightLease {
    return new InflightLease(this);
  }

  countInflight(delta: 1 | -1): void {
    this.#inflight += delta;
  }

  /** May receive new requests now. */
  available(now: number, ignoreEjection = false): boolean {
    return this.healthy && (ignoreEjection || this.ejectedUntil <= now);
  }

  /** For status and metrics: healthy by active checks and not ejected. */
  isUp(): boolean {
    return this.available(Date.now());
  }

  /** A transport failure or timeout talking to this server. */
  recordFailure(passive: PassiveHealth | null, now: number): void {
    if (passive === null) return;
    if (this.#probation) {
      this.#eject(passive, now);
      return;
    }
    const since = now - passive.window;
    this.#failures = this.#failures.filter((t) => t > since);
    this.#failures.push(now);
    if (this.#failures.length >= passive.maxFailures) this.#eject(passive, now);
  }

  recordSuccess(): void {
    if (this.#probation) {
      this.#probation = false;
      this.#failures = [];
    }
  }

  /** Sets the active health result; returns true when it changed. */
  setHealthy(healthy: boolean): boolean {
    if (this.healthy === healthy) return false;
    this.healthy = healthy;
    this.onChange?.();
    return true;
  }

  #eject(passive: PassiveHealth, now: number): void {
    this.ejectedUntil = now + passive.ejectFor;
    this.#probation = true;
    this.#failures = [];
    this.onChange?.();
    const timer = setTimeout(() => this.onChange?.(), passive.ejectFor + 1);
    Deno.unrefTimer(timer);
  }
}

/**
 * "host:port" of a server for a Host header; the port is left out when it is the default. A unix
 * socket has no authority of its own: "localhost", as curl --unix-socket and Docker clients send.
 */
export function serverAuthority(ref: ServerRef): string {
  if (ref.path !== null) return "localhost";
  const host = ref.hostname.includes(":") ? `[${ref.hostname}]` : ref.hostname;
  return ref.port === (ref.scheme === "https" ? 443 : 80) ? host : `${host}:${ref.port}`;
}
