/**
 * The state of `rate_limit` and `in_flight_limit` in the counter store (net/shared_counters.ts)
 * that every worker isolate shares, so a limit holds for the whole process: the same interfaces
 * as the in-process `LocalLimitTable` (net/limit_store.ts), and the same GCRA arithmetic.
 *
 * A key's entry is `<partition>\0<key>` (the partition names the middleware and digests its
 * definition: a reload that keeps a definition finds the same entries in every worker, a changed
 * one starts on fresh ones). Its cells: 0 the bucket's theoretical arrival time `tat` (ms), 1 the
 * requests in flight. Each `take`, `peek`, `acquire` and `release` is one `update` under the
 * store's lock, so no two isolates interleave a read-modify-write.
 *
 * Expiry (what the store evicts first when a new key needs a slot): a bucket is the same as no
 * entry once it is full again, at `tat`; an entry with requests in flight is kept as long as the
 * store can (it expires last), since evicting it would forget requests still running. Memory is
 * the store's: fixed when the process starts, whatever number of keys clients send.
 *
 * A release is never doubled by this table (the middleware registers one per acquire, and the
 * request's end runs once, http/context.ts `atEnd`), and never goes below 0: a count whose entry
 * was evicted under a flood of keys starts again from 0 and its late releases are absorbed.
 * Closing a table (its middleware was dropped by a reload) keeps releasing: the requests it
 * admitted still end, and entries are freed by expiry, not by close.
 *
 * Tested by shared_limit_store_test.ts (one isolate, and across two workers).
 */
import {
  gcraPeek,
  gcraTake,
  type LimitStore,
  type LimitTable,
  type Rate,
  type Taken,
} from "./limit_store.ts";
import type { CounterEntry, CounterStore } from "./shared_counters.ts";
import { monotonicNow } from "../clock.ts";

/** Cell of the bucket's theoretical arrival time (epoch ms; 0: none). */
const TAT = 0;
/** Cell of the count of requests in flight. */
const IN_FLIGHT = 1;
/** The expiry of an entry with requests in flight: after every bucket's. */
const HELD = Number.MAX_VALUE;

/** Tables over one counter store. */
export class SharedLimitStore implements LimitStore {
  readonly #counters: CounterStore;

  constructor(counters: CounterStore) {
    if (counters.cells < 2) {
      throw new Error(`Cannot keep limits in a counter store of ${counters.cells} cell per entry`);
    }
    this.#counters = counters;
  }

  table(partition: string, _maxKeys: number): LimitTable {
    return new SharedLimitTable(this.#counters, partition);
  }
}

class SharedLimitTable implements LimitTable {
  readonly #counters: CounterStore;
  readonly #prefix: string;

  constructor(counters: CounterStore, partition: string) {
    this.#counters = counters;
    this.#prefix = partition + "\u0000";
  }

  take(key: string, rate: Rate, now: number): Taken {
    return this.#counters.update(this.#prefix + key, now, (e) => {
      const { taken, next } = gcraTake(e.get(TAT), rate, now);
      if (next !== null) {
        e.set(TAT, next);
        expire(e);
      }
      return taken;
    });
  }

  peek(key: string, rate: Rate, now: number): Taken {
    return this.#counters.update(this.#prefix + key, now, (e) => gcraPeek(e.get(TAT), rate, now));
  }

  acquire(key: string, max: number): boolean {
    return this.#counters.update(this.#prefix + key, monotonicNow(), (e) => {
      const n = e.get(IN_FLIGHT);
      if (n >= max) return false;
      e.set(IN_FLIGHT, n + 1);
      expire(e);
      return true;
    });
  }

  release(key: string): void {
    this.#counters.update(this.#prefix + key, monotonicNow(), (e) => {
      e.set(IN_FLIGHT, Math.max(0, e.get(IN_FLIGHT) - 1));
      expire(e);
    });
  }

  close(): void {
    // The entries are the store's: they expire, and requests in flight still release them.
  }
}

/** Sets when `e` may go: never while requests are in flight, else once its bucket is full. */
function expire(e: CounterEntry): void {
  e.expires = e.get(IN_FLIGHT) > 0 ? HELD : e.get(TAT);
}
