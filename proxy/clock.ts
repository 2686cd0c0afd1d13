/**
 * The clock of every deadline, timeout, ejection and rate window: milliseconds on a monotonic
 * clock, on the scale of `Date.now()` as it was when the isolate started.
 *
 * The wall clock can be stepped (NTP correcting a VM that resumed, an operator's `date -s`).
 * Deadlines taken from it then move all at once: stepped back an hour, no idle connection times
 * out and an ejected server stays out for that hour; stepped forward, every request in flight
 * passes its timeouts. Timers (`setTimeout`) are monotonic already; this is for the deadlines
 * compared with "now". Values stay comparable across isolates (worker isolates start within
 * moments of the main one) and with `Date.now()` while the wall clock is not stepped.
 *
 * Wall-clock times (log lines, certificate expiry, ACME, HTTP dates) keep `Date.now()`.
 * Tested by clock_test.ts (Gatehouse under libfaketime, its wall clock stepped both ways).
 */

const origin = performance.timeOrigin;

/** Milliseconds now, monotonic (see the module doc). */
export function monotonicNow(): number {
  return origin + performance.now();
}
