/**
 * HPACK's dynamic table (RFC 7541 2.3.2 and 4): a FIFO of fields in a ring buffer, sized by the
 * sum of `name.length + value.length + 32` over its entries, evicting the oldest entries to make
 * room. Shared by the encoder and the decoder.
 *
 * @module
 */

/** Per-entry overhead RFC 7541 4.1 counts in a table's size. */
export const ENTRY_OVERHEAD = 32;

export class DynamicTable {
  #names: string[] = new Array(16);
  #values: string[] = new Array(16);
  /** Slot of the oldest entry. */
  #tail = 0;
  #length = 0;
  #size = 0;
  #maxSize: number;
  /** Entries ever inserted: the newest entry's insertion number. */
  #inserted = 0;
  /** Called with each entry evicted, oldest first, and its insertion number. */
  readonly onEvict: ((name: string, value: string, seq: number) => void) | undefined;

  constructor(maxSize: number, onEvict?: (name: string, value: string, seq: number) => void) {
    this.#maxSize = maxSize;
    this.onEvict = onEvict;
  }

  /** Entries in the table. */
  get length(): number {
    return this.#length;
  }

  /** Current size in HPACK's accounting. */
  get size(): number {
    return this.#size;
  }

  get maxSize(): number {
    return this.#maxSize;
  }

  /** Insertion number of the newest entry (1 for the first ever inserted). */
  get inserted(): number {
    return this.#inserted;
  }

  /** Name of entry `i` (1 = newest); `i` must be in 1..length. */
  name(i: number): string {
    return this.#names[this.#slot(i)];
  }

  /** Value of entry `i` (1 = newest). */
  value(i: number): string {
    return this.#values[this.#slot(i)];
  }

  /** Changes the maximum size, evicting entries that no longer fit. */
  setMaxSize(maxSize: number): void {
    this.#maxSize = maxSize;
    while (this.#size > maxSize) this.#evict();
  }

  /**
   * Inserts a field, evicting what it needs. A field larger than the maximum size empties the
   * table and is not inserted (RFC 7541 4.4); returns whether it was inserted.
   */
  add(name: string, value: string): boolean {
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    while (this.#length > 0 && this.#size + entrySize > this.#maxSize) this.#evict();
    if (entrySize > this.#maxSize) return false;
    if (this.#length === this.#names.length) this.#grow();
    const slot = (this.#tail + this.#length) & (this.#names.length - 1);
    this.#names[slot] = name;
    this.#values[slot] = value;
    this.#length++;
    this.#size += entrySize;
    this.#inserted++;
    return true;
  }

  #slot(i: number): number {
    return (this.#tail + this.#length - i) & (this.#names.length - 1);
  }

  #evict(): void {
    const slot = this.#tail;
    const name = this.#names[slot];
    const value = this.#values[slot];
    this.#names[slot] = this.#values[slot] = "";
    this.#tail = (this.#tail + 1) & (this.#names.length - 1);
    this.#length--;
    this.#size -= name.length + value.length + ENTRY_OVERHEAD;
    this.onEvict?.(name, value, this.#inserted - this.#length);
  }

  #grow(): void {
    const cap = this.#names.length;
    const names = new Array<string>(cap * 2);
    const values = new Array<string>(cap * 2);
    for (let i = 0; i < this.#length; i++) {
      names[i] = this.#names[(this.#tail + i) & (cap - 1)];
      values[i] = this.#values[(this.#tail + i) & (cap - 1)];
    }
    this.#names = names;
    this.#values = values;
    this.#tail = 0;
  }
}
