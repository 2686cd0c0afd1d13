/**
 * Open client connections per owner (entrypoint) and in all, as the connection limits read them:
 * counted in one isolate (LocalConnectionCounts), or in a SharedArrayBuffer every worker isolate
 * shares (SharedConnectionCounts), so that `limits.max_connections` and an entrypoint's
 * `max_connections` bound the connections of all workers together; and the requests in flight
 * over all connections, which `limits.max_requests_in_flight` bounds.
 *
 * Admission is one atomic step: `tryAdd` counts the connection first and takes it back when that
 * passed a limit, so two workers admitting at once can never both take the last place (under a
 * race one of them may be refused a place that the other then left free: the count errs low,
 * never high).
 *
 * Tested by connection_counts_test.ts (in one isolate and across workers).
 */

/**
 * The number a `limits.max_connections` or `limits.max_requests_in_flight` setting stands for:
 * itself, or for "auto" what the memory limit holds (`auto`, app/connection_budget.ts); 0 = none.
 */
export function limitOf(set: number | "auto", auto: number): number {
  return set === "auto" ? auto : set;
}

/** Which limit refused a connection. */
export type LimitHit = "total" | "owner";

export interface ConnectionCounts {
  /**
   * Counts one more connection of `owner`, unless that would pass `maxTotal` connections in all
   * or `maxOwner` of this owner (0 = no limit): then counts nothing and says which limit.
   */
  tryAdd(owner: string, maxTotal: number, maxOwner: number): LimitHit | null;
  /** A connection of `owner` closed. */
  remove(owner: string): void;
  /** Open connections in all. */
  total(): number;
  /** Open connections of `owner`. */
  count(owner: string): number;
  /** Counts one more request in flight unless `max` are (0 = no limit); false when full. */
  tryAddRequest(max: number): boolean;
  /** A request counted by `tryAddRequest` ended. */
  removeRequest(): void;
  /** Requests in flight. */
  requests(): number;
}

/** Counts in this isolate (an owner's count stays in the map at 0: owners are few). */
export class LocalConnectionCounts implements ConnectionCounts {
  readonly #perOwner = new Map<string, number>();
  #total = 0;
  #requests = 0;

  tryAdd(owner: string, maxTotal: number, maxOwner: number): LimitHit | null {
    if (maxTotal > 0 && this.#total >= maxTotal) return "total";
    const own = this.#perOwner.get(owner) ?? 0;
    if (maxOwner > 0 && own >= maxOwner) return "owner";
    this.#total++;
    this.#perOwner.set(owner, own + 1);
    return null;
  }

  remove(owner: string): void {
    const own = this.#perOwner.get(owner);
    if (own === undefined || own === 0) return;
    this.#total--;
    this.#perOwner.set(owner, own - 1);
  }

  total(): number {
    return this.#total;
  }

  count(owner: string): number {
    return this.#perOwner.get(owner) ?? 0;
  }

  tryAddRequest(max: number): boolean {
    if (max > 0 && this.#requests >= max) return false;
    this.#requests++;
    return true;
  }

  removeRequest(): void {
    if (this.#requests > 0) this.#requests--;
  }

  requests(): number {
    return this.#requests;
  }
}

/**
 * Counts in a SharedArrayBuffer: an Int32 for the total, then one per owner slot, then one for
 * the requests in flight. The main
 * isolate assigns slots to owner names (`assign`) and sends the map with each config; workers
 * take it (`use`). A name keeps its slot for the life of the process; when every slot has been
 * used, a slot whose name is gone from the config and whose count is 0 is given to a new name.
 * An owner without a slot (none should exist) is counted in this isolate only.
 */
export class SharedConnectionCounts implements ConnectionCounts {
  readonly buffer: SharedArrayBuffer;
  readonly #counts: Int32Array;
  /** The index of the requests in flight: after the owner slots. */
  readonly #requests: number;
  readonly #slots = new Map<string, number>();
  readonly #unslotted = new LocalConnectionCounts();

  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.#counts = new Int32Array(buffer);
    this.#requests = this.#counts.length - 1;
  }

  /** Counts for up to `owners` owner names over the life of the process. */
  static create(owners: number): SharedConnectionCounts {
    return new SharedConnectionCounts(new SharedArrayBuffer((owners + 2) * 4));
  }

  /**
   * Main isolate: gives every name of `owners` a slot (keeping the ones they have) and returns
   * the map to send to workers. Throws when no slot is left.
   */
  assign(owners: readonly string[]): Record<string, number> {
    const wanted = new Set(owners);
    for (const name of owners) {
      if (this.#slots.has(name)) continue;
      let slot = this.#slots.size + 1;
      if (slot >= this.#requests) {
        const free = [...this.#slots].find(([old, s]) =>
          !wanted.has(old) && Atomics.load(this.#counts, s) === 0
        );
        if (free === undefined) {
          throw new Error(
            `Cannot count connections of entrypoint "${name}": all ${
              this.#requests - 1
            } entrypoint slots are in use`,
          );
        }
        this.#slots.delete(free[0]);
        slot = free[1];
      }
      this.#slots.set(name, slot);
    }
    return Object.fromEntries([...this.#slots].filter(([name]) => wanted.has(name)));
  }

  /** Worker isolate: takes the slots the main isolate assigned. */
  use(slots: Readonly<Record<string, number>>): void {
    for (const [name, slot] of Object.entries(slots)) {
      for (const [old, s] of this.#slots) if (s === slot && old !== name) this.#slots.delete(old);
      this.#slots.set(name, slot);
    }
  }

  tryAdd(owner: string, maxTotal: number, maxOwner: number): LimitHit | null {
    const slot = this.#slots.get(owner);
    if (slot === undefined) {
      const hit = maxTotal > 0 && this.total() >= maxTotal ? "total" : null;
      return hit ?? this.#unslotted.tryAdd(owner, 0, maxOwner);
    }
    const counts = this.#counts;
    const total = Atomics.add(counts, 0, 1) + 1;
    if (maxTotal > 0 && total > maxTotal) {
      Atomics.sub(counts, 0, 1);
      return "total";
    }
    const own = Atomics.add(counts, slot, 1) + 1;
    if (maxOwner > 0 && own > maxOwner) {
      Atomics.sub(counts, slot, 1);
      Atomics.sub(counts, 0, 1);
      return "owner";
    }
    return null;
  }

  remove(owner: string): void {
    const slot = this.#slots.get(owner);
    if (slot === undefined) {
      this.#unslotted.remove(owner);
      return;
    }
    Atomics.sub(this.#counts, slot, 1);
    Atomics.sub(this.#counts, 0, 1);
  }

  total(): number {
    return Atomics.load(this.#counts, 0) + this.#unslotted.total();
  }

  count(owner: string): number {
    const slot = this.#slots.get(owner);
    return slot === undefined ? this.#unslotted.count(owner) : Atomics.load(this.#counts, slot);
  }

  tryAddRequest(max: number): boolean {
    const counts = this.#counts;
    const n = Atomics.add(counts, this.#requests, 1) + 1;
    if (max > 0 && n > max) {
      Atomics.sub(counts, this.#requests, 1);
      return false;
    }
    return true;
  }

  removeRequest(): void {
    Atomics.sub(this.#counts, this.#requests, 1);
  }

  requests(): number {
    return Atomics.load(this.#counts, this.#requests);
  }
}
