/**
 * The state of one upstream server, and nothing else: health (active checks and passive
 * ejection, kept in a cell that worker isolates may share) and work in flight, as plain
 * counters and flags. Selection policies only read
 * `available()`, `inflight` and `weight`; connections belong to the server's transport.
 */
import type { PassiveHealth, ServerRef } from "../config/types.ts";
import { type InflightCounter, InflightLease } from "./inflight.ts";
import { LocalServerCell, type ServerCell } from "./server_cells.ts";
import { monotonicNow } from "../clock.ts";

export class UpstreamServer implements InflightCounter {
  readonly ref: ServerRef;
  readonly url: string;
  readonly weight: number;
  /** Health and ejection, possibly shared with other isolates (server_cells.ts). */
  readonly cell: ServerCell;
  #inflight = 0;
  /**
   * The cell's ejection count when probation last ended: while the count differs, the server
   * was ejected (here or in another isolate) and one failure ejects it again.
   */
  #cleared: number;
  /** Failures seen by this isolate within the window. */
  #failures: number[] = [];

  constructor(ref: ServerRef, cell: ServerCell = new LocalServerCell()) {
    this.ref = ref;
    this.url = ref.url;
    this.weight = ref.weight;
    this.cell = cell;
    this.#cleared = cell.ejections;
  }

  /** Result of active health checks; true until a check says otherwise. */
  get healthy(): boolean {
    return this.cell.healthy;
  }

  /** Passive ejection: not selected before this time (epoch ms). */
  get ejectedUntil(): number {
    return this.cell.ejectedUntil;
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
    const cell = this.cell;
    return cell.healthy && (ignoreEjection || cell.ejectedUntil <= now);
  }

  /** For status and metrics: healthy by active checks and not ejected. */
  isUp(): boolean {
    return this.available(monotonicNow());
  }

  /**
   * A transport failure or timeout talking to this server. Failures are counted per isolate;
   * an ejection applies to every isolate sharing the cell. True when this failure took out a
   * server that was not ejected (for the log); false when it was already out or stays in.
   */
  recordFailure(passive: PassiveHealth | null, now: number): boolean {
    if (passive === null) return false;
    if (this.cell.ejections !== this.#cleared) return this.#eject(passive, now);
    const since = now - passive.window;
    this.#failures = this.#failures.filter((t) => t > since);
    this.#failures.push(now);
    return this.#failures.length >= passive.maxFailures && this.#eject(passive, now);
  }

  recordSuccess(): void {
    const ejections = this.cell.ejections;
    if (ejections !== this.#cleared) {
      this.#cleared = ejections;
      this.#failures = [];
    }
  }

  /** Sets the active health result; returns true when it changed. */
  setHealthy(healthy: boolean): boolean {
    if (this.cell.healthy === healthy) return false;
    this.cell.healthy = healthy;
    return true;
  }

  /**
   * Ejects until `ejectFor` from now (again, when a failure comes while it is out: panic routing
   * keeps sending to it). Nothing is scheduled: the ejection ends by time, read in `available()`.
   */
  #eject(passive: PassiveHealth, now: number): boolean {
    const fresh = this.cell.ejectedUntil <= now;
    this.cell.eject(now + passive.ejectFor);
    this.#failures = [];
    return fresh;
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
