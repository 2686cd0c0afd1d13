/**
 * A budget of bytes shared by the connections of an isolate, for memory that only some of them
 * may hold at once (HTTP/2 stream windows grown past their default, response encoders): taken
 * before the memory is used, given back when it is free again.
 *
 * @module
 */
export class ByteBudget {
  #total: number;
  #available: number;

  constructor(bytes: number) {
    this.#total = bytes;
    this.#available = bytes;
  }

  /** Bytes in the budget. */
  get total(): number {
    return this.#total;
  }

  /** Bytes not taken (below 0 after a resize under what is taken, until enough comes back). */
  get available(): number {
    return this.#available;
  }

  /** Makes the budget `bytes`; what is taken stays taken. */
  resize(bytes: number): void {
    this.#available += bytes - this.#total;
    this.#total = bytes;
  }

  /** Takes `n` bytes; false (nothing taken) when the budget cannot spare them. */
  take(n: number): boolean {
    if (n > this.#available) return false;
    this.#available -= n;
    return true;
  }

  /** Gives back `n` bytes taken before. */
  give(n: number): void {
    this.#available += n;
  }
}
