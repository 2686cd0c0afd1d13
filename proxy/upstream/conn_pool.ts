/**
 * Keep-alive connections to one upstream server.
 *
 * Idle connections wait in a stack (the most recently used is reused first, so the others
 * expire). Each idle connection keeps a read pending: if the upstream closes it, or sends
 * anything unasked, it leaves the pool at once instead of failing the next request.
 */
import { BufferedConn, type ByteConn } from "../net/buffered_conn.ts";
import type { ConnLease } from "../proto/h1/client.ts";
import { type ConnectionRegistry, TrackedConnection } from "../net/connections.ts";

export type Dialer = (signal: AbortSignal) => Promise<ByteConn>;

export interface ConnPoolOptions {
  readonly dial: Dialer;
  /** Sweeps deadlines of upstream connections (response-header and idle timeouts). */
  readonly registry: ConnectionRegistry;
  /** Label for the tracked connections (the service name). */
  readonly label: string;
  readonly maxIdle: number;
  readonly idleTimeoutMs: number;
}

const UPSTREAM_BUFFER = 16 * 1024;

class PooledConn implements ConnLease {
  readonly io: BufferedConn;
  reused = false;
  discarded = false;
  readonly track: TrackedConnection;
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
  readonly #idle: PooledConn[] = [];
  #closed = false;
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
    if (!reusable || this.#closed || this.#idle.length >= this.#opts.maxIdle || c.io.buffered > 0) {
      this.#discard(c);
      return;
    }
    c.track.state = "idle";
    c.track.deadline = Date.now() + this.#opts.idleTimeoutMs;
    this.#idle.push(c);
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
    for (const c of this.#idle.splice(0)) this.#discard(c);
  }

  #discard(c: PooledConn): void {
    if (c.discarded) return;
    c.discarded = true;
    c.track.close();
    this.open--;
    this.#opts.registry.delete(c.track);
  }
}
