/**
 * The one way a request, tunnel or TCP stream counts as in flight on a server: acquire a lease
 * when the work starts, release it when the work ends. Releasing twice is harmless, so a path
 * that ends in several places (body done, body failed, client gone) cannot count twice, and the
 * count least_requests balances on cannot drift.
 *
 * Tested by server_state_test.ts.
 */

/** What a lease counts on: the server's state. */
export interface InflightCounter {
  /** Changes the count by `delta`; only leases call it. */
  countInflight(delta: 1 | -1): void;
}

export class InflightLease {
  readonly #counter: InflightCounter;
  #held = true;

  constructor(counter: InflightCounter) {
    this.#counter = counter;
    counter.countInflight(1);
  }

  /** True until released. */
  get held(): boolean {
    return this.#held;
  }

  /** Ends the count; later calls do nothing. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    this.#counter.countInflight(-1);
  }
}
