/**
 * HTTP/2 connections to one upstream server. A request goes on the first connection with a free
 * stream (the server's SETTINGS_MAX_CONCURRENT_STREAMS); when all are full another connection is
 * dialled, and requests arriving meanwhile wait for that one (up to 100 of them) instead of each
 * dialling their own. A new connection is handed out once the server's SETTINGS arrived, so its
 * stream limit is known: the waiters beyond it go on to another connection. A connection the
 * server sent GOAWAY on takes no new request and closes once its streams are done.
 *
 * Idle connections (no stream open) close after `idleTimeoutMs`, and at most `maxIdle` stay
 * idle. Every connection is in the upstream connection registry (metrics, shutdown).
 *
 * Tested by h2_transport_test.ts.
 */
import type { ByteConn } from "../net/buffered_conn.ts";
import { type ConnectionRegistry, TrackedConnection } from "../net/connections.ts";
import { connectH2, type H2ClientConnection } from "../proto/h2/client.ts";
import { log } from "../telemetry/log.ts";
import { monotonicNow } from "../clock.ts";

const logger = log("upstream");
const NO_PING_ANSWER = new Error("no PING answer");

export interface H2PoolOptions {
  /** Opens a connection the server agreed to speak HTTP/2 on. */
  readonly dial: (signal: AbortSignal) => Promise<ByteConn>;
  readonly registry: ConnectionRegistry;
  /** Label of the tracked connections (the service name). */
  readonly label: string;
  readonly maxIdle: number;
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: () => number;
}

/** Streams a connection is assumed to take before its SETTINGS say. */
const ASSUMED_STREAMS = 100;

interface Pooled {
  readonly h2: H2ClientConnection;
  readonly track: TrackedConnection;
  /** A request on it timed out: no new stream until a PING comes back (see `suspect`). */
  suspect: boolean;
}

interface Dialling {
  readonly promise: Promise<H2ClientConnection>;
  waiters: number;
}

export class H2Pool {
  readonly #opts: H2PoolOptions;
  readonly #conns: Pooled[] = [];
  readonly #dials: Dialling[] = [];
  #closed = false;

  constructor(opts: H2PoolOptions) {
    this.#opts = opts;
  }

  /** Connections open (idle or in use). */
  get open(): number {
    return this.#conns.length;
  }

  /** Connections with no stream open. */
  get idle(): number {
    let n = 0;
    for (const c of this.#conns) if (c.h2.openStreams === 0) n++;
    return n;
  }

  /**
   * Runs `start` on a connection with room for one more stream (an open one, else one being
   * dialled, else a new one), synchronously once it is chosen so the stream counts before the
   * next request looks. Rejects when the dial fails, or with `signal`'s reason when it aborts
   * first. `start` must return an object that is not a promise (its result is the caller's).
   */
  async lease<T extends object>(
    signal: AbortSignal,
    start: (h2: H2ClientConnection) => T,
  ): Promise<T> {
    for (;;) {
      for (const c of this.#conns) if (c.h2.available > 0 && !c.suspect) return start(c.h2);
      const h2 = await raceAbort(this.#dial(), signal);
      signal.throwIfAborted();
      if (h2.available > 0) return start(h2);
      if (h2.maxConcurrentStreams === 0) {
        throw new Error("the server allows no streams (SETTINGS_MAX_CONCURRENT_STREAMS 0)");
      }
      // Full already (others waited for it too): look again, dialling another if need be.
    }
  }

  /** A connection being dialled with waiters to spare, or a new dial. */
  #dial(): Promise<H2ClientConnection> {
    let dialling = this.#dials.find((d) => d.waiters < ASSUMED_STREAMS);
    if (dialling === undefined) {
      const promise = this.#connect();
      const entry: Dialling = { promise, waiters: 0 };
      dialling = entry;
      this.#dials.push(entry);
      const done = () => this.#dials.splice(this.#dials.indexOf(entry), 1);
      promise.then(done, done);
    }
    dialling.waiters++;
    return dialling.promise;
  }

  /**
   * A request on `h2` failed on the server's side: no answer in time, a malformed one, or a
   * reset. The server may just be slow or have refused that one request, or the connection may
   * be broken (a frame cut short leaves the reader waiting for bytes that never come, and every
   * stream on it would time out in turn; stray bytes garble what follows): it takes no new stream
   * until a PING comes back, and is closed if none does within the connect timeout.
   */
  suspect(h2: H2ClientConnection): void {
    const c = this.#conns.find((p) => p.h2 === h2);
    if (c === undefined || c.suspect) return;
    c.suspect = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const silent = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(NO_PING_ANSWER), this.#opts.connectTimeoutMs());
    });
    Promise.race([h2.ping(), silent]).then(
      () => c.suspect = false,
      (err) => {
        // A connection that closed meanwhile has said why already.
        if (err === NO_PING_ANSWER) {
          logger.warn(
            "Closing an HTTP/2 connection of service {service}: a request on it failed and it " +
              "answered no PING within {ms} ms (a stuck or broken server)",
            { service: this.#opts.label, ms: this.#opts.connectTimeoutMs() },
          );
        }
        c.track.close();
      },
    ).finally(() => clearTimeout(timer));
  }

  /** Adds a connection dialled elsewhere (the server chose h2 by ALPN) to the pool. */
  adopt(conn: ByteConn): H2ClientConnection {
    return this.#add(conn).h2;
  }

  /** Closes idle connections and stops pooling; busy ones finish their streams, then close. */
  close(): void {
    this.#closed = true;
    for (const c of [...this.#conns]) {
      if (c.h2.openStreams === 0) c.track.close();
      else void c.h2.shutdown();
    }
  }

  /**
   * A new connection, once the server's SETTINGS arrived: the requests waiting for it then see
   * its real stream limit (and queue on it beyond that) instead of being refused.
   */
  async #connect(): Promise<H2ClientConnection> {
    const signal = AbortSignal.timeout(this.#opts.connectTimeoutMs());
    const { h2 } = this.#add(await this.#opts.dial(signal));
    const timer = setTimeout(() => h2.close(), Math.max(0, this.#opts.connectTimeoutMs()));
    const ready = await h2.ready;
    clearTimeout(timer);
    if (!ready) {
      throw new Error(h2.closeError?.message ?? "the server closed the connection at once");
    }
    return h2;
  }

  #add(conn: ByteConn): Pooled {
    const opts = this.#opts;
    let pooled: Pooled | null = null;
    const h2 = connectH2(conn, {
      onStreamCount: (open) => {
        if (pooled !== null) this.#streamsChanged(pooled, open);
      },
    });
    const track = new TrackedConnection(opts.label, "http", () => h2.close());
    pooled = { h2, track, suspect: false };
    this.#conns.push(pooled);
    opts.registry.add(track);
    // Idle until its first stream (the request that dialled it starts one at once).
    track.state = "idle";
    track.deadline = monotonicNow() + opts.idleTimeoutMs;
    void h2.closed.then(() => {
      const i = this.#conns.indexOf(pooled!);
      if (i >= 0) this.#conns.splice(i, 1);
      track.close();
      opts.registry.delete(track);
    });
    if (this.#closed) void h2.shutdown();
    return pooled;
  }

  #streamsChanged(c: Pooled, open: number): void {
    if (open > 0) {
      c.track.state = "active";
      c.track.deadline = 0;
      return;
    }
    if (this.#closed || c.h2.closing || this.idle > this.#opts.maxIdle) {
      c.track.close();
      return;
    }
    c.track.state = "idle";
    c.track.deadline = monotonicNow() + this.#opts.idleTimeoutMs;
  }
}

/** `promise`, or a rejection with `signal`'s reason should it abort first. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (err) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}
