/**
 * Keep-alive connections to one upstream server.
 *
 * Idle connections wait in a stack (the most recently used is reused first, so the others
 * expire). Each idle connection keeps a read pending: if the upstream closes it, or sends
 * anything unasked, it leaves the pool at once instead of failing the next request.
 *
 * Beyond `maxIdle`, a released connection is not closed at once: the least recently used idle
 * connections over the limit close once they have been idle for `surplusMs`. Many streams of
 * HTTP/2 clients finish and start in bursts (a burst of responses releases hundreds of
 * connections, the next requests a round trip later need them again); closing the surplus at
 * release made such a load open a new upstream connection for every other request.
 */
import { BufferedConn, type ByteConn } from "../net/buffered_conn.ts";
import type { ConnLease } from "../proto/h1/client.ts";
import { type ConnectionRegistry, TrackedConnection } from "../net/connections.ts";
import { monotonicNow } from "../clock.ts";

export type Dialer = (signal: AbortSignal) => Promise<ByteConn>;

export interface ConnPoolOptions {
  readonly dial: Dialer;
  /** Sweeps deadlines of upstream connections (response-header and idle timeouts). */
  readonly registry: ConnectionRegistry;
  /** Label for the tracked connections (the service name). */
  readonly label: string;
  readonly maxIdle: number;
  readonly idleTimeoutMs: number;
  /** How long an idle connection over `maxIdle` stays (default SURPLUS_MS). */
  readonly surplusMs?: number;
}

/** How long idle connections over the pool's limit wait to be reused before they close. */
export const SURPLUS_MS = 1000;

/**
 * Each upstream connection's own read buffer, held while it waits for a response and while it is
 * idle in the pool. A response head fits (it grows for a larger one) and a body that fills it moves
 * on to a pooled 64 KiB buffer (net/buffered_conn.ts), so a larger one only cost memory: at 16 KiB,
 * 832 requests waiting on a stalled upstream held 13 MiB of it.
 */
const UPSTREAM_BUFFER = 4 * 1024;

class PooledConn implements ConnLease {
  readonly io: BufferedConn;
  reused = false;
  discarded = false;
  readonly track: TrackedConnection;
  /** When the connection last went idle (epoch ms). */
  idleSince = 0;
  readonly #pool: ConnPool;
  #leased = true;

  constructor(conn: ByteConn, pool: ConnPool, label: string) {
    this.io = new BufferedConn(conn, UPSTREAM_BUFFER);
    this.#pool = pool;
    this.track = new TrackedConnection(label, "http", () => this.io.close());
    this.track.state = "active";
  }

  setDeadline(epochMs: number): void {
    this.track.deadline = epochMs;
  }

  release(reusable: boolean): void {
    if (!this.#leased) return;
    this.#leased = false;
    this.#pool.put(this, reusable);
  }

  /** Marks the connection as handed out again. */
  lease(): void {
    this.#leased = true;
    this.reused = true;
  }
}

export class ConnPool {
  readonly #opts: ConnPoolOptions;
  /** Idle connections, the least recently released first. */
  readonly #idle: PooledConn[] = [];
  #closed = false;
  #trimTimer: ReturnType<typeof setTimeout> | undefined;
  /** Connections open (idle or in use). */
  open = 0;

  constructor(opts: ConnPoolOptions) {
    this.#opts = opts;
  }

  get idle(): number {
    return this.#idle.length;
  }

  /** An idle connection that is still alive, or null when there is none. */
  takeIdle(): ConnLease | null {
    while (this.#idle.length > 0) {
      const c = this.#idle.pop()!;
      if (c.track.closed || c.io.eof) {
        // Closed (idle timeout) or ended before its watcher ran: the watcher no longer finds
        // it idle, so it is forgotten here.
        this.#discard(c);
        continue;
      }
      c.lease();
      c.track.state = "active";
      c.track.deadline = 0;
      return c;
    }
    return null;
  }

  /** A new connection (rejects if the dial fails). */
  async connect(signal: AbortSignal): Promise<ConnLease> {
    const conn = await this.#opts.dial(signal);
    const c = new PooledConn(conn, this, this.#opts.label);
    this.open++;
    this.#opts.registry.add(c.track);
    return c;
  }

  /** Adds a connection dialled elsewhere as idle (the server chose http/1.1 by ALPN). */
  adopt(conn: ByteConn): void {
    const c = new PooledConn(conn, this, this.#opts.label);
    this.open++;
    this.#opts.registry.add(c.track);
    this.put(c, true);
  }

  /** Called by a lease when its exchange is over. */
  put(c: PooledConn, reusable: boolean): void {
    if (!reusable || this.#closed || this.#opts.maxIdle === 0 || c.io.buffered > 0) {
      this.#discard(c);
      return;
    }
    const now = monotonicNow();
    c.idleSince = now;
    c.track.state = "idle";
    c.track.deadline = now + this.#opts.idleTimeoutMs;
    this.#idle.push(c);
    if (this.#idle.length > this.#opts.maxIdle) this.#scheduleTrim();
    c.io.watchForData().then(() => {
      // Data or end of stream while idle: either way the connection is no longer usable.
      const i = this.#idle.indexOf(c);
      if (i >= 0) {
        this.#idle.splice(i, 1);
        this.#discard(c);
      }
    });
  }

  /** Closes idle connections and stops pooling; leased ones close when released. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#trimTimer);
    this.#trimTimer = undefined;
    for (const c of this.#idle.splice(0)) this.#discard(c);
  }

  #scheduleTrim(): void {
    if (this.#trimTimer !== undefined) return;
    const timer = setTimeout(() => {
      this.#trimTimer = undefined;
      this.#trim(monotonicNow());
    }, this.#opts.surplusMs ?? SURPLUS_MS);
    Deno.unrefTimer(timer);
    this.#trimTimer = timer;
  }

  /** Closes the least recently used idle connections over the limit that waited long enough. */
  #trim(now: number): void {
    const surplusMs = this.#opts.surplusMs ?? SURPLUS_MS;
    while (this.#idle.length > this.#opts.maxIdle && this.#idle[0].idleSince + surplusMs <= now) {
      this.#discard(this.#idle.shift()!);
    }
    if (this.#idle.length > this.#opts.maxIdle) this.#scheduleTrim();
  }

  #discard(c: PooledConn): void {
    if (c.discarded) return;
    c.discarded = true;
    c.track.close();
    this.open--;
    this.#opts.registry.delete(c.track);
  }
}
