/**
 * Where an upstream server's health lives: its active health result and its passive ejection.
 * With one isolate a cell is two plain fields (LocalServerCell); with worker isolates every
 * isolate reads and writes the same slot of a SharedArrayBuffer (ServerTable), so a server the
 * main isolate's health checks mark down, or that one worker ejects, is down or ejected in all.
 *
 * A slot is two Int32s and one BigInt64: `healthy` (1/0), `ejections` (how many so far) and the
 * ejection deadline (epoch ms). A reader loads `ejections` (one Int32 load per pick) and reads
 * the deadline again only when that count moved; a writer stores the deadline first, then adds
 * one to the count, so a reader that sees the new count sees the new deadline.
 *
 * Tested by server_cells_test.ts (in one isolate and across workers).
 */

/** The shared part of an upstream server's state. */
export interface ServerCell {
  /** Active health result; true until a check says otherwise. */
  healthy: boolean;
  /** Passive ejection: not selected before this time (epoch ms); 0 = never ejected. */
  readonly ejectedUntil: number;
  /** Ejections so far, by any isolate (a change means a new ejection). */
  readonly ejections: number;
  /** Ejects the server until `until` (epoch ms). */
  eject(until: number): void;
}

/** A cell in one isolate. */
export class LocalServerCell implements ServerCell {
  healthy = true;
  ejectedUntil = 0;
  ejections = 0;

  eject(until: number): void {
    this.ejectedUntil = until;
    this.ejections++;
  }
}

/** Bytes per slot: two Int32s, and one BigInt64 in the second region. */
const INT32S = 2;

/**
 * Server slots in a SharedArrayBuffer, the same in every isolate that holds the buffer. The
 * main isolate allocates and releases slots; workers only open cells on the slots it names.
 */
export class ServerTable {
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  readonly #i32: Int32Array;
  readonly #i64: BigInt64Array;
  #next = 0;
  /** Released slots, oldest first: reused only when no slot was ever used is left. */
  readonly #released: number[] = [];

  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.capacity = buffer.byteLength / (INT32S * 4 + 8);
    this.#i32 = new Int32Array(buffer, 0, this.capacity * INT32S);
    this.#i64 = new BigInt64Array(buffer, this.capacity * INT32S * 4, this.capacity);
  }

  /** A table for `capacity` servers. */
  static create(capacity: number): ServerTable {
    return new ServerTable(new SharedArrayBuffer(capacity * (INT32S * 4 + 8)));
  }

  /**
   * A slot for a new server: healthy, not ejected. Released slots are reused last, oldest
   * first, so a request still finishing on a removed server cannot eject the server that
   * takes its slot. Throws when every slot is in use.
   */
  allocate(): number {
    let slot: number;
    if (this.#next < this.capacity) slot = this.#next++;
    else if (this.#released.length > 0) slot = this.#released.shift()!;
    else {
      throw new Error(
        `Cannot add an upstream server: all ${this.capacity} server slots are in use`,
      );
    }
    Atomics.store(this.#i64, slot, 0n);
    Atomics.store(this.#i32, slot * INT32S, 1);
    return slot;
  }

  /** The server of `slot` is gone from the config. */
  release(slot: number): void {
    this.#released.push(slot);
  }

  /** The cell of `slot`, for this isolate. */
  cell(slot: number): ServerCell {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.capacity) {
      throw new RangeError(`Cannot open server slot ${slot}: the table has ${this.capacity}`);
    }
    return new SharedServerCell(this.#i32, this.#i64, slot);
  }
}

class SharedServerCell implements ServerCell {
  readonly #i32: Int32Array;
  readonly #i64: BigInt64Array;
  readonly #slot: number;
  /** The ejection count this isolate last read the deadline at, and that deadline. */
  #seen = -1;
  #until = 0;

  constructor(i32: Int32Array, i64: BigInt64Array, slot: number) {
    this.#i32 = i32;
    this.#i64 = i64;
    this.#slot = slot;
  }

  get healthy(): boolean {
    return Atomics.load(this.#i32, this.#slot * INT32S) === 1;
  }

  set healthy(value: boolean) {
    Atomics.store(this.#i32, this.#slot * INT32S, value ? 1 : 0);
  }

  get ejections(): number {
    return Atomics.load(this.#i32, this.#slot * INT32S + 1);
  }

  get ejectedUntil(): number {
    const count = this.ejections;
    if (count !== this.#seen) {
      this.#seen = count;
      this.#until = Number(Atomics.load(this.#i64, this.#slot));
    }
    return this.#until;
  }

  eject(until: number): void {
    Atomics.store(this.#i64, this.#slot, BigInt(Math.round(until)));
    Atomics.add(this.#i32, this.#slot * INT32S + 1, 1);
  }
}
