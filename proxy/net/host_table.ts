/**
 * Host names to values, the way certificates match names (RFC 6125): an exact name first, then
 * a `*.` wildcard covering exactly one label (`*.example.com` covers `a.example.com`, not
 * `a.b.example.com` nor `example.com`). HTTP routing, TCP routing by SNI and the certificate
 * store all look names up through this one table.
 *
 * Names are compared lowercase and without a trailing dot. Tested by host_table_test.ts, whose
 * cases also run against each user of the table.
 */

export class HostTable<T> {
  readonly #exact = new Map<string, T>();
  readonly #wildcard = new Map<string, T>();

  /** The value stored for `pattern` (a name or `*.` wildcard), if any. */
  get(pattern: string): T | undefined {
    const { map, key } = this.#slot(pattern);
    return map.get(key);
  }

  /** Stores `value` for `pattern` unless one is stored already (the first claim wins). */
  claim(pattern: string, value: T): void {
    const { map, key } = this.#slot(pattern);
    if (!map.has(key)) map.set(key, value);
  }

  /** The value for `pattern`, created with `make` when absent. */
  getOrCreate(pattern: string, make: () => T): T {
    const { map, key } = this.#slot(pattern);
    let value = map.get(key);
    if (value === undefined) {
      value = make();
      map.set(key, value);
    }
    return value;
  }

  /** The best value for `name`: its exact entry, else the wildcard one label up. */
  match(name: string): T | undefined {
    const n = normalize(name);
    if (n === "") return undefined;
    return this.#exact.get(n) ?? this.#wildcardFor(n);
  }

  /** Every value that covers `name`, the exact one first. */
  matchAll(name: string): T[] {
    const n = normalize(name);
    const out: T[] = [];
    if (n === "") return out;
    const exact = this.#exact.get(n);
    if (exact !== undefined) out.push(exact);
    const wild = this.#wildcardFor(n);
    if (wild !== undefined) out.push(wild);
    return out;
  }

  /** True when some entry covers `name`. */
  covers(name: string): boolean {
    return this.match(name) !== undefined;
  }

  /** Every stored value (exact entries first, each group in insertion order). */
  values(): T[] {
    return [...this.#exact.values(), ...this.#wildcard.values()];
  }

  #wildcardFor(name: string): T | undefined {
    const dot = name.indexOf(".");
    return dot > 0 ? this.#wildcard.get(name.slice(dot + 1)) : undefined;
  }

  #slot(pattern: string): { map: Map<string, T>; key: string } {
    const p = normalize(pattern);
    return p.startsWith("*.")
      ? { map: this.#wildcard, key: p.slice(2) }
      : { map: this.#exact, key: p };
  }
}

function normalize(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}
