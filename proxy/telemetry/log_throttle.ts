/**
 * A count behind a log line that may come at most once per interval: events are counted as they
 * happen, and the caller logs only when `count` says it is time, with how many there were since
 * the last line (`since`, which it then resets with `logged`). `ever` is the total, for metrics.
 *
 * @module
 */
import { monotonicNow } from "../clock.ts";

export class LogThrottle {
  readonly #everyMs: number;
  #loggedAt = -Infinity;
  /** Events since the last line logged. */
  since = 0;
  /** Events counted in all. */
  ever = 0;

  constructor(everyMs: number) {
    this.#everyMs = everyMs;
  }

  /** Counts one event; true when a line is due (then log `since` and call `logged`). */
  count(): boolean {
    this.since++;
    this.ever++;
    const now = monotonicNow();
    if (now - this.#loggedAt < this.#everyMs) return false;
    this.#loggedAt = now;
    return true;
  }

  /** The line for `since` events was logged. */
  logged(): void {
    this.since = 0;
  }
}
