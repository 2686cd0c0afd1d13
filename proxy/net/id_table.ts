/**
 * A table of values by positive integer id (HTTP/2 stream ids, request numbers), for the
 * per-connection registries of what is in flight, where a `Map` costs the garbage collector dearly.
 *
 * Why not a `Map`: ids only grow, so a long-lived `Map` that is filled and emptied keeps
 * rebuilding its hash table, and once the `Map` is in V8's old generation, so is each new table;
 * the table it replaces is garbage there, still pointing at the values that were live when it was
 * rebuilt, and keeps them (and all they reference) alive through every young collection until
 * the next full one: they are promoted. With ten requests in flight per HTTP/2 connection (on a
 * route that answers itself) that was 9.3% of everything the proxy allocated, against 0.2% with
 * one (docs/runtime.md, "Requests promoted under load"). This table is open addressing with linear
 * probing over two arrays it keeps: `delete` clears the slot, so nothing it dropped stays
 * reachable, and it reallocates only to grow or shrink.
 *
 * @module
 */

const MIN_CAPACITY = 16;

export class IdTable<T> {
  #ids: number[];
  #values: (T | undefined)[];
  #mask: number;
  #size = 0;

  constructor() {
    this.#ids = new Array(MIN_CAPACITY).fill(0);
    this.#values = new Array(MIN_CAPACITY).fill(undefined);
    this.#mask = MIN_CAPACITY - 1;
  }

  get size(): number {
    return this.#size;
  }

  get(id: number): T | undefined {
    const i = this.#find(id);
    return i < 0 ? undefined : this.#values[i];
  }

  /** Sets the value of `id` (a positive integer), replacing any it had. */
  set(id: number, value: T): void {
    if (!(id > 0 && Number.isSafeInteger(id))) {
      throw new RangeError(`IdTable ids are positive integers, not ${id}`);
    }
    const found = this.#find(id);
    if (found >= 0) {
      this.#values[found] = value;
      return;
    }
    if ((this.#size + 1) * 2 > this.#ids.length) this.#resize(this.#ids.length * 2);
    this.#place(id, value);
    this.#size++;
  }

  /** Removes `id`; true when it was there. */
  delete(id: number): boolean {
    let i = this.#find(id);
    if (i < 0) return false;
    const ids = this.#ids;
    const values = this.#values;
    const mask = this.#mask;
    // Backward-shift deletion: close the gap so that every probe chain stays unbroken.
    for (let j = (i + 1) & mask; ids[j] !== 0; j = (j + 1) & mask) {
      const home = ids[j] & mask;
      // Entry j may move to the gap at i when its home is not cyclically within (i, j].
      if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
        ids[i] = ids[j];
        values[i] = values[j];
        i = j;
      }
    }
    ids[i] = 0;
    values[i] = undefined;
    this.#size--;
    if (this.#size * 8 < ids.length && ids.length > MIN_CAPACITY) this.#resize(ids.length / 2);
    return true;
  }

  /** The values, in no particular order (a new array: the table may change meanwhile). */
  values(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.#ids.length; i++) {
      if (this.#ids[i] !== 0) out.push(this.#values[i] as T);
    }
    return out;
  }

  #find(id: number): number {
    const ids = this.#ids;
    const mask = this.#mask;
    for (let i = id & mask; ids[i] !== 0; i = (i + 1) & mask) {
      if (ids[i] === id) return i;
    }
    return -1;
  }

  #place(id: number, value: T): void {
    const mask = this.#mask;
    let i = id & mask;
    while (this.#ids[i] !== 0) i = (i + 1) & mask;
    this.#ids[i] = id;
    this.#values[i] = value;
  }

  #resize(capacity: number): void {
    const ids = this.#ids;
    const values = this.#values;
    this.#ids = new Array(capacity).fill(0);
    this.#values = new Array(capacity).fill(undefined);
    this.#mask = capacity - 1;
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] !== 0) this.#place(ids[i], values[i] as T);
    }
  }
}
