/**
 * Every open client connection and tunnel, with its deadline and state: one sweep timer enforces
 * all deadlines (cheaper than a timer per connection), and shutdown and route removal drain
 * through here. The counts the connection limits read may be shared with other worker isolates
 * (connection_counts.ts), and so may the counts per client address (a `LimitTable`'s in-flight
 * counts: limit_store.ts in one isolate, shared_limit_store.ts across workers).
 */
import {
  type ConnectionCounts,
  type LimitHit,
  LocalConnectionCounts,
} from "./connection_counts.ts";
import type { LimitTable } from "./limit_store.ts";
import { monotonicNow } from "../clock.ts";

/** Counts of open connections per client address (the in-flight half of a LimitTable). */
export type ClientCounts = Pick<LimitTable, "acquire" | "release">;

/** Which limit refused a connection: one of the counts', or the client address's. */
export type AdmitHit = LimitHit | "client";

export type ConnState = "handshake" | "idle" | "active" | "tunnel";

/**
 * Bounds each write to a client connection (a `TrackedConnection`, whose registry enforces it;
 * `writeAll` in buffered_conn.ts does the marking): a writer marks a write as under way
 * (`writeDeadline` -1) and done (0); the registry's next sweep turns -1 into a deadline
 * `writeIdleMs` ahead, and closes the connection once it passes. No clock is read per write.
 */
export interface WriteWatch {
  /** 0: no write under way; -1: one started since the last sweep; else the deadline. */
  writeDeadline: number;
  /** How long one write may wait for the peer to take bytes; 0 = no limit. */
  writeIdleMs: number;
}

/** Marks a write to the peer as started (`watch` may be absent). */
export function armWrite(watch: WriteWatch | undefined): void {
  if (watch !== undefined && watch.writeIdleMs > 0) watch.writeDeadline = -1;
}

/** Marks the write to the peer as done. */
export function disarmWrite(watch: WriteWatch | undefined): void {
  if (watch !== undefined) watch.writeDeadline = 0;
}

export class TrackedConnection implements WriteWatch {
  /** Epoch milliseconds after which the connection is closed; 0 = none. Set by the protocol. */
  deadline = 0;
  /** Like `deadline`, but set by shutdown or route removal; the protocol never clears it. */
  hardDeadline = 0;
  /**
   * The write under way to the peer (`WriteWatch`, marked by the protocol's writer): 0 none, -1 started since the last sweep, else the epoch milliseconds by which it
   * must complete. A peer that takes no byte for `writeIdleMs` is closed, whatever the other
   * deadlines.
   */
  writeDeadline = 0;
  /** How long one write may wait on the peer; 0 = no limit. Set by the protocol. */
  writeIdleMs = 0;
  state: ConnState = "handshake";
  /** For tunnels: the route that opened them, so that removing the route can drain them. */
  route: string | null = null;
  /** Called when shutdown begins (h2: start a graceful GOAWAY). */
  onDrain: (() => void) | null = null;
  /** Called after `close` (a tunnel closes its upstream side with the client's). */
  onClose: (() => void) | null = null;
  /** Finish the current exchange, then close (shutdown, or the entrypoint was removed). */
  closing = false;
  /**
   * Run once by the next sweep while set, then cleared. The HTTP/1.1 engine sets it for the
   * exchange in flight, so that only an exchange that outlasts a sweep puts a read in flight to
   * notice its client closing (see proto/h1/server.ts).
   */
  onSweep: (() => void) | null = null;
  /**
   * Whose connection this is: the entrypoint that accepted a client connection, or the service
   * an upstream connection belongs to (each registry holds one kind).
   */
  readonly owner: string;
  readonly kind: "http" | "tcp" | "udp";
  /** The client address this connection counts against (set by the registry), or null. */
  client: string | null = null;
  /**
   * False for a tunnel that rides on a stream of a connection already counted (WebSocket over
   * HTTP/2): it has deadlines and drains like a connection but takes no place of the limits.
   */
  readonly counted: boolean;
  readonly #close: () => void;
  #closed = false;

  constructor(
    owner: string,
    kind: "http" | "tcp" | "udp",
    close: () => void,
    options: { counted?: boolean } = {},
  ) {
    this.owner = owner;
    this.kind = kind;
    this.#close = close;
    this.counted = options.counted ?? true;
  }

  /** Closes the underlying connection once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#close();
    } catch {
      // already closed by the peer
    }
    this.onClose?.();
  }

  get closed(): boolean {
    return this.#closed;
  }
}

/** How often deadlines are checked: the precision of every timeout. */
export const SWEEP_MS = 100;

export class ConnectionRegistry {
  readonly #conns = new Set<TrackedConnection>();
  /** Open connections per owner and in all, for the limits checked on every accept. */
  readonly #counts: ConnectionCounts;
  /** Open connections per client address, for `limits.max_connections_per_client`. */
  readonly #perClient: ClientCounts | null;
  /** The owner `admit` counted a connection for, which the next `add` of one takes. */
  #admitted: string | null = null;
  /** The client address `admit` counted it against, or null. */
  #admittedClient: string | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;
  #draining = false;
  readonly #waiters = new Set<() => void>();

  constructor(
    counts: ConnectionCounts = new LocalConnectionCounts(),
    perClient: ClientCounts | null = null,
  ) {
    this.#counts = counts;
    this.#perClient = perClient;
  }

  /** True once shutdown began: connections finish their current request and close. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Open connections in this isolate. */
  get size(): number {
    return this.#conns.size;
  }

  /**
   * Counts a place for one more connection of `owner` unless that passes `maxTotal` in all or
   * `maxOwner` of the owner, or `maxPerClient` from `client` (0 = no limit; counted across every
   * isolate sharing the counts); the next `add` of a connection of `owner` takes the place.
   * Returns the limit that refused.
   */
  admit(
    owner: string,
    maxTotal: number,
    maxOwner: number,
    client: string | null = null,
    maxPerClient = 0,
  ): AdmitHit | null {
    const hit = this.#counts.tryAdd(owner, maxTotal, maxOwner);
    if (hit !== null) return hit;
    const perClient = client !== null && maxPerClient > 0 ? this.#perClient : null;
    if (perClient !== null && !perClient.acquire(client!, maxPerClient)) {
      this.#counts.remove(owner);
      return "client";
    }
    this.#admitted = owner;
    this.#admittedClient = perClient === null ? null : client;
    return null;
  }

  add(conn: TrackedConnection): void {
    if (this.#conns.has(conn)) return;
    this.#conns.add(conn);
    if (conn.counted) {
      if (this.#admitted === conn.owner) {
        conn.client = this.#admittedClient;
        this.#admitted = null;
        this.#admittedClient = null;
      } else this.#counts.tryAdd(conn.owner, 0, 0);
    }
    if (this.#timer === undefined) {
      const timer = setInterval(() => this.sweep(monotonicNow()), SWEEP_MS);
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  delete(conn: TrackedConnection): void {
    if (!this.#conns.delete(conn)) return;
    if (conn.counted) this.#counts.remove(conn.owner);
    if (conn.client !== null) this.#perClient?.release(conn.client);
    if (this.#conns.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      for (const wake of this.#waiters) wake();
    }
  }

  /** Closes every connection whose deadline has passed; runs the `onSweep` of the others. */
  sweep(now: number): void {
    for (const c of this.#conns) {
      if (c.writeDeadline === -1) c.writeDeadline = now + c.writeIdleMs;
      if (
        (c.deadline !== 0 && c.deadline <= now) ||
        (c.hardDeadline !== 0 && c.hardDeadline <= now) ||
        (c.writeDeadline > 0 && c.writeDeadline <= now)
      ) {
        c.close();
      } else if (c.onSweep !== null) {
        const run = c.onSweep;
        c.onSweep = null;
        run();
      }
    }
  }

  /** Every open connection (for metrics at scrape time). */
  values(): IterableIterator<TrackedConnection> {
    return this.#conns.values();
  }

  /**
   * Counts one more request in flight unless `max` are, over every isolate sharing the counts
   * (0 = no limit); false when full. Each request counted ends with `endRequest`.
   */
  admitRequest(max: number): boolean {
    return this.#counts.tryAddRequest(max);
  }

  endRequest(): void {
    this.#counts.removeRequest();
  }

  /** Requests in flight, in every isolate sharing the counts. */
  get requests(): number {
    return this.#counts.requests();
  }

  /**
   * Open connections, optionally only those of one owner (entrypoint or service), in every
   * isolate sharing the counts.
   */
  count(owner?: string): number {
    return owner === undefined ? this.#counts.total() : this.#counts.count(owner);
  }

  /**
   * An entrypoint was removed: its idle connections close now, busy ones after their current
   * exchange, and none lives longer than `graceMs`.
   */
  drainEntrypoint(entrypoint: string, graceMs: number): void {
    const deadline = monotonicNow() + graceMs;
    for (const c of this.#conns) {
      if (c.owner !== entrypoint) continue;
      c.closing = true;
      if (c.state === "idle" || c.state === "handshake") c.close();
      else {
        c.onDrain?.();
        setHardDeadline(c, deadline);
      }
    }
  }

  /** Tunnels opened through `route` get `graceMs` more, then close. */
  drainRoute(route: string, graceMs: number): void {
    const deadline = monotonicNow() + graceMs;
    for (const c of this.#conns) {
      if (c.state === "tunnel" && c.route === route) setHardDeadline(c, deadline);
    }
  }

  /**
   * Shutdown: idle connections close now, busy ones close after their current exchange, and
   * whatever is still open after `timeoutMs` is closed. Resolves when none is left, or
   * DRAIN_GRACE_MS after the deadline with the number that did not go (a connection whose
   * close cannot complete must not keep the process alive).
   */
  async drain(timeoutMs: number): Promise<number> {
    this.#draining = true;
    for (const c of this.#conns) {
      c.closing = true;
      if (c.state === "idle" || c.state === "handshake") c.close();
      else c.onDrain?.();
    }
    if (this.#conns.size === 0) return 0;
    const deadline = monotonicNow() + timeoutMs;
    for (const c of this.#conns) setHardDeadline(c, deadline);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      const wake = () => {
        this.#waiters.delete(wake);
        clearTimeout(timer);
        resolve();
      };
      this.#waiters.add(wake);
      timer = setTimeout(wake, timeoutMs + DRAIN_GRACE_MS);
      if (this.#conns.size === 0) wake();
    });
    return this.#conns.size;
  }
}

/** How long after the drain deadline shutdown waits for closed connections to finish. */
export const DRAIN_GRACE_MS = 2000;

function setHardDeadline(c: TrackedConnection, deadline: number): void {
  c.hardDeadline = c.hardDeadline === 0 ? deadline : Math.min(c.hardDeadline, deadline);
}
