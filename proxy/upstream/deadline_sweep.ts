/**
 * Deadlines of many short-lived things (the streams of HTTP/2 upstreams) checked by one interval
 * timer every SWEEP_MS while any is watched, instead of a timer each. A timer per deadline cost an
 * HTTP/2 upstream request three `setTimeout`s (the response head, the body's first chunk, each
 * chunk after it): under `h2load -c50 -m10` the timers and their entries in the runtime's timer
 * table outlived two young collections with their requests, and were 63% of what reached the old
 * generation (docs/runtime.md, question 10). The precision is the sweep's, as for every other
 * timeout of Gatehouse (net/connections.ts).
 *
 * Tested by deadline_sweep_test.ts and, through the HTTP/2 transport, h2_transport_test.ts.
 *
 * @module
 */
import { monotonicNow } from "../clock.ts";
import { SWEEP_MS } from "../net/connections.ts";

/** Something with a deadline. */
export interface Expiring {
  /** When it expires (monotonicNow milliseconds); 0 for no deadline. */
  readonly deadline: number;
  /** Called once, by the first sweep after the deadline; the item is no longer watched. */
  expire(): void;
}

export class DeadlineSweep {
  readonly #items = new Set<Expiring>();
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Items watched now. */
  get size(): number {
    return this.#items.size;
  }

  /** True while the sweep's timer runs. */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /** Watches `item` until `delete` or until it expires. */
  add(item: Expiring): void {
    this.#items.add(item);
    if (this.#timer === undefined) {
      const timer = setInterval(() => this.sweep(monotonicNow()), SWEEP_MS);
      // Deadlines alone do not keep the process alive.
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  delete(item: Expiring): void {
    this.#items.delete(item);
  }

  /** Expires every item whose deadline passed by `now`; the timer stops once none is watched. */
  sweep(now: number): void {
    for (const item of this.#items) {
      if (item.deadline !== 0 && item.deadline <= now) {
        this.#items.delete(item);
        item.expire();
      }
    }
    if (this.#items.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
