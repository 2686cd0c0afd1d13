/**
 * The state behind `rate_limit` and `in_flight_limit`: per key, a token bucket and a count of
 * requests in flight, in a table of bounded size. A middleware asks a `LimitStore` for a table
 * of its own (`partition` names it: the middleware's name and a digest of its definition, so a
 * reload that keeps the definition finds the same state); the in-process store here gives each
 * middleware Maps of its own. With worker isolates, net/shared_limit_store.ts implements the same
 * two interfaces over the counter store they share, so a limit holds across all of them.
 *
 * Token bucket as GCRA: a key's bucket holds `burst` tokens and gains one every `intervalMs`;
 * the state is the time `tat` at which the bucket will be full again. A request at `now` may
 * pass when `tat - now <= (burst - 1) * intervalMs`; it then moves `tat` one interval on. A
 * key whose `tat` has passed has a full bucket, the same as no entry at all: such entries are
 * swept every few seconds. The table holds two generations of at most `maxKeys / 2` keys each,
 * so a flood of new keys cannot grow it beyond `maxKeys`: a key untouched for a whole
 * generation is dropped and starts over with a full bucket.
 *
 * Tested by limit_store_test.ts.
 */
import { monotonicNow } from "../clock.ts";

/** A bucket's shape: one token every `intervalMs`, at most `burst`. */
export interface Rate {
  readonly intervalMs: number;
  readonly burst: number;
}

/** What taking a token found. */
export interface Taken {
  readonly ok: boolean;
  /** Tokens left after this request (0 when refused). */
  readonly remaining: number;
  /** Milliseconds until the next token, when refused (0 otherwise). */
  readonly waitMs: number;
  /** Milliseconds until the bucket is full again. */
  readonly fullInMs: number;
}

/** One middleware's state. */
export interface LimitTable {
  /** Takes one token from `key`'s bucket at time `now` (ms). */
  take(key: string, rate: Rate, now: number): Taken;
  /** What `take` would find, without taking: for the RateLimit fields of an answer. */
  peek(key: string, rate: Rate, now: number): Taken;
  /** Counts a request in flight for `key` unless `max` are; false when full. */
  acquire(key: string, max: number): boolean;
  /** Ends one request in flight for `key`. */
  release(key: string): void;
  /** Frees the table (its middleware was dropped by a reload, or Gatehouse stops). */
  close(): void;
}

/** Where tables come from. */
export interface LimitStore {
  table(partition: string, maxKeys: number): LimitTable;
}

/** How often expired buckets are swept. */
const SWEEP_MS = 10_000;

/** Tables in this isolate's memory. */
export const localLimitStore: LimitStore = {
  table: (_partition, maxKeys) => new LocalLimitTable(maxKeys),
};

/**
 * GCRA's take at `now` on a bucket whose theoretical arrival time is `stored` (0, or any time
 * past: a full bucket); `next` is the bucket's new arrival time when the token was taken.
 */
export function gcraTake(
  stored: number,
  rate: Rate,
  now: number,
): { taken: Taken; next: number | null } {
  const tolerance = (rate.burst - 1) * rate.intervalMs;
  const tat = stored < now ? now : stored;
  if (tat - now > tolerance) {
    const taken = { ok: false, remaining: 0, waitMs: tat - now - tolerance, fullInMs: tat - now };
    return { taken, next: null };
  }
  const next = tat + rate.intervalMs;
  const remaining = Math.floor((tolerance - (next - now)) / rate.intervalMs) + 1;
  return { taken: { ok: true, remaining, waitMs: 0, fullInMs: next - now }, next };
}

/** What a take at `now` would find on a bucket whose arrival time is `stored`, taking nothing. */
export function gcraPeek(stored: number, rate: Rate, now: number): Taken {
  const tat = stored < now ? now : stored;
  const tolerance = (rate.burst - 1) * rate.intervalMs;
  const remaining = Math.max(0, Math.floor((tolerance - (tat - now)) / rate.intervalMs) + 1);
  const waitMs = remaining > 0 ? 0 : tat - now - tolerance;
  return { ok: remaining > 0, remaining, waitMs, fullInMs: tat - now };
}

export class LocalLimitTable implements LimitTable {
  readonly #generation: number;
  /** Buckets touched in this generation, and in the one before (two Maps: eviction is O(1)). */
  #tat = new Map<string, number>();
  #older = new Map<string, number>();
  readonly #inFlight = new Map<string, number>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(maxKeys: number) {
    this.#generation = Math.max(1, Math.floor(maxKeys / 2));
  }

  /** Keys held (buckets and in-flight counts). */
  get size(): number {
    return this.#tat.size + this.#older.size + this.#inFlight.size;
  }

  take(key: string, rate: Rate, now: number): Taken {
    const { taken, next } = gcraTake(this.#tat.get(key) ?? this.#older.get(key) ?? 0, rate, now);
    if (next !== null) this.#store(key, next);
    return taken;
  }

  peek(key: string, rate: Rate, now: number): Taken {
    return gcraPeek(this.#tat.get(key) ?? this.#older.get(key) ?? 0, rate, now);
  }

  acquire(key: string, max: number): boolean {
    const n = this.#inFlight.get(key) ?? 0;
    if (n >= max) return false;
    this.#inFlight.set(key, n + 1);
    return true;
  }

  release(key: string): void {
    const n = this.#inFlight.get(key);
    if (n === undefined) return;
    if (n <= 1) this.#inFlight.delete(key);
    else this.#inFlight.set(key, n - 1);
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#tat = new Map();
    this.#older = new Map();
    this.#inFlight.clear();
  }

  /**
   * Keeps `tat` for `key` in this generation. A full generation becomes the older one and the
   * one before it is dropped whole: a key untouched for a whole generation starts over full.
   */
  #store(key: string, tat: number): void {
    if (this.#timer === undefined) {
      const timer = setInterval(() => this.#sweep(monotonicNow()), SWEEP_MS);
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
    this.#tat.set(key, tat);
    if (this.#tat.size < this.#generation) return;
    this.#older = this.#tat;
    this.#tat = new Map();
  }

  /** Drops buckets that are full again (the same as no entry); stops the timer when empty. */
  #sweep(now: number): void {
    for (const map of [this.#tat, this.#older]) {
      for (const [key, tat] of map) if (tat <= now) map.delete(key);
    }
    if (this.#tat.size + this.#older.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
