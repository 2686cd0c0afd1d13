/**
 * A counter store keyed by strings, with bounded memory, for state that must be one number
 * across worker isolates: rate-limit buckets, in-flight counts per client. The main isolate
 * creates one over a SharedArrayBuffer (`CounterStore.shared`) and hands it to every worker; a
 * store over a plain ArrayBuffer (`CounterStore.local`) behaves the same within one isolate.
 * A request phase reaches the process's store as `ctx.deps.counters` (PipelineDeps, set by
 * app/runtime.ts in one isolate and in every worker alike; app/shared_state.ts sizes it: 65,536
 * entries of 4 numbers).
 *
 * Each key has an entry of `cells` numbers (all 0 when the entry is new) and an expiry time.
 * `update` runs a function on a key's entry under the store's lock, so a read-modify-write is
 * atomic across isolates:
 *
 * ```ts
 * // A token bucket as GCRA: `interval` ms per token, up to `burst` tokens at once.
 * const waitMs = store.update(`login:${clientIp}`, now, (e) => {
 *   const tat = Math.max(e.get(0), now); // theoretical arrival time
 *   if (tat - now > (burst - 1) * interval) return tat - now - (burst - 1) * interval;
 *   e.set(0, tat + interval);
 *   e.expires = tat + interval; // idle buckets can go once they are full again
 *   return 0;
 * });
 * ```
 *
 * Memory: entries live in buckets of WAYS slots chosen by the key's hash. A new key takes a free
 * or expired slot of its bucket, else the one that expires first (a flood of new keys evicts
 * the keys closest to expiry, and never grows memory). Keys are told apart by two 32-bit hashes
 * (a collision of both merges two keys; at a million live keys the chance is about 1 in 10^7).
 * The lock is held for the length of `update`'s function: keep it short, never await in it. A
 * worker killed while holding it would stop every other one; Gatehouse never terminates a
 * worker that is running.
 *
 * Cost (app/shared_state_bench.ts): see docs/architecture.md, "Worker isolates".
 *
 * Tested by shared_counters_test.ts (in one isolate and across workers).
 */

/** One key's entry, valid only inside the `update` function it was given to. */
export interface CounterEntry {
  /** Cell `i` (0 for a new entry). */
  get(i: number): number;
  set(i: number, value: number): void;
  /** Epoch ms after which the entry may be reused for another key (0: a new entry). */
  expires: number;
}

/** Slots per bucket. */
const WAYS = 8;
/** Float64s before the cells of an entry: two hash halves and the expiry. */
const HEAD = 3;

export interface CounterStoreOptions {
  /** Entries kept at most (rounded up to a multiple of 8). */
  readonly entries: number;
  /** Numbers per entry (default 4). */
  readonly cells?: number;
}

export class CounterStore {
  /** The memory every isolate shares (an ArrayBuffer for a local store). */
  readonly buffer: SharedArrayBuffer | ArrayBuffer;
  readonly cells: number;
  readonly #buckets: number;
  readonly #stride: number;
  readonly #lock: Int32Array | null;
  readonly #data: Float64Array;
  readonly #entry: Entry;

  /** Opens a store over `buffer` (made by `shared` or `local` in any isolate). */
  constructor(buffer: SharedArrayBuffer | ArrayBuffer, cells = 4) {
    this.buffer = buffer;
    this.cells = cells;
    this.#stride = HEAD + cells;
    const shared = buffer instanceof SharedArrayBuffer;
    this.#lock = shared ? new Int32Array(buffer, 0, 2) : null;
    this.#data = new Float64Array(buffer, 8);
    this.#buckets = Math.floor(this.#data.length / (WAYS * this.#stride));
    this.#entry = new Entry(this.#data);
  }

  /** A store shared by every isolate the buffer is sent to. */
  static shared(options: CounterStoreOptions): CounterStore {
    const cells = options.cells ?? 4;
    return new CounterStore(new SharedArrayBuffer(byteLength(options.entries, cells)), cells);
  }

  /** A store for this isolate only. */
  static local(options: CounterStoreOptions): CounterStore {
    const cells = options.cells ?? 4;
    return new CounterStore(new ArrayBuffer(byteLength(options.entries, cells)), cells);
  }

  /** Entries the store holds at most. */
  get capacity(): number {
    return this.#buckets * WAYS;
  }

  /**
   * Runs `fn` on the entry of `key` (a new one, all cells 0, when the key has none or its entry
   * was reused) and returns what it returns, atomically with every other isolate's updates.
   * `now` (epoch ms) decides which entries have expired.
   */
  update<T>(key: string, now: number, fn: (entry: CounterEntry) => T): T {
    const h1 = hash(key, 0x811c9dc5, 0x01000193);
    const h2 = hash(key, 0x9e3779b9, 0x5bd1e995) | 1;
    this.#acquire();
    try {
      this.#entry.base = this.#find(h1, h2, now);
      return fn(this.#entry);
    } finally {
      this.#release();
    }
  }

  /** The base index of `h1/h2`'s entry, claiming one (cleared) when it has none. */
  #find(h1: number, h2: number, now: number): number {
    const data = this.#data;
    const first = (h1 % this.#buckets) * WAYS * this.#stride;
    let victim = -1;
    let victimExpires = Infinity;
    for (let way = 0; way < WAYS; way++) {
      const base = first + way * this.#stride;
      if (data[base] === h1 && data[base + 1] === h2) return base;
      const expires = data[base + 2];
      const free = data[base + 1] === 0 || expires <= now;
      const rank = free ? -1 : expires;
      if (rank < victimExpires) {
        victimExpires = rank;
        victim = base;
      }
    }
    data[victim] = h1;
    data[victim + 1] = h2;
    data[victim + 2] = 0;
    data.fill(0, victim + HEAD, victim + this.#stride);
    return victim;
  }

  #acquire(): void {
    const lock = this.#lock;
    if (lock === null) return;
    for (let spins = 0; Atomics.compareExchange(lock, 0, 0, 1) !== 0; spins++) {
      // Another isolate holds the lock for a few hundred nanoseconds: spin a little, then sleep
      // until it is released.
      if (spins > 100) Atomics.wait(lock, 0, 1, 1);
    }
  }

  #release(): void {
    const lock = this.#lock;
    if (lock === null) return;
    Atomics.store(lock, 0, 0);
    Atomics.notify(lock, 0, 1);
  }
}

/** The entry view handed to `update` functions (one per store, moved between entries). */
class Entry implements CounterEntry {
  readonly #data: Float64Array;
  base = 0;

  constructor(data: Float64Array) {
    this.#data = data;
  }

  get(i: number): number {
    return this.#data[this.base + HEAD + i];
  }

  set(i: number, value: number): void {
    this.#data[this.base + HEAD + i] = value;
  }

  get expires(): number {
    return this.#data[this.base + 2];
  }

  set expires(value: number) {
    this.#data[this.base + 2] = value;
  }
}

function byteLength(entries: number, cells: number): number {
  const buckets = Math.max(1, Math.ceil(entries / WAYS));
  return 8 + buckets * WAYS * (HEAD + cells) * 8;
}

/** A 32-bit FNV-1a style hash of `text` (start value, multiplier), with a final mix. */
function hash(text: string, seed: number, prime: number): number {
  let h = seed;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, prime);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}
