/**
 * After a burst of load, an isolate that carries traffic gives back the memory the burst grew it
 * to (internal/memory_release.ts: a shrinking V8 collection, then glibc's malloc_trim) once it
 * has gone quiet, instead of keeping its peak until the next burst: RSS 191 -> 86 MiB after an
 * HTTP/2 load test, where it had stayed at 192 MiB a minute later before.
 *
 * Quiet: no request admitted during one whole check (CHECK_MS), V8's heap and buffers
 * (heapTotal + external) GROWTH_BYTES or more above what they were after the last release (or
 * at start), and MIN_GAP_MS since the last release. The collection stops the isolate for tens of
 * milliseconds (81 ms after that test), which a quiet isolate can spare; a steady trickle of
 * requests never triggers it, and neither does a heap that did not grow.
 *
 * Tested by idle_release_test.ts.
 */
import { releaseAbilities, releaseMemory } from "../internal/memory_release.ts";
import { log } from "../telemetry/log.ts";
import { monotonicNow } from "../clock.ts";

const logger = log("memory");
const MIB = 1024 * 1024;
export const CHECK_MS = 10_000;
export const GROWTH_BYTES = 32 * MIB;
export const MIN_GAP_MS = 60_000;

/** What the policy reads and does: injectable for its own tests. */
export interface ReleaseDeps {
  /** A count that grows with every request the isolate admits. */
  readonly activity: () => number;
  /** V8's heap and buffers, and the process's RSS, in bytes. */
  readonly memory: () => { heapTotal: number; external: number; rss: number };
  /** Resolves with how long it stopped the isolate. */
  readonly release: () => Promise<{ pauseMs: number }>;
}

const DEFAULT_DEPS: Omit<ReleaseDeps, "activity"> = {
  memory: () => Deno.memoryUsage(),
  release: releaseMemory,
};

export class IdleRelease {
  readonly #deps: ReleaseDeps;
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastActivity: number;
  #baseline: number;
  #releasedAt = -Infinity;

  constructor(activity: () => number, deps: Partial<ReleaseDeps> = {}) {
    this.#deps = { ...DEFAULT_DEPS, activity, ...deps };
    this.#lastActivity = activity();
    this.#baseline = held(this.#deps.memory());
  }

  /** Checks every CHECK_MS from now on (the timer does not keep the process alive). */
  start(): void {
    if (this.#timer !== undefined) return;
    const { collect, trim } = releaseAbilities();
    if (!collect && !trim) return;
    const timer = setInterval(() => void this.check(monotonicNow()), CHECK_MS);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One check at `now`; resolves true when it released memory. */
  async check(now: number): Promise<boolean> {
    const activity = this.#deps.activity();
    const quiet = activity === this.#lastActivity;
    this.#lastActivity = activity;
    if (!quiet || now - this.#releasedAt < MIN_GAP_MS) return false;
    const before = this.#deps.memory();
    if (held(before) - this.#baseline < GROWTH_BYTES) return false;
    this.#releasedAt = now;
    const { pauseMs } = await this.#deps.release();
    const after = this.#deps.memory();
    this.#baseline = held(after);
    logger.info(
      "Gave back memory after the load: RSS {rssBefore} -> {rssAfter} MiB, V8 heap and buffers " +
        "{heldBefore} -> {heldAfter} MiB (the collection stopped this isolate for {ms} ms)",
      {
        rssBefore: Math.round(before.rss / MIB),
        rssAfter: Math.round(after.rss / MIB),
        heldBefore: Math.round(held(before) / MIB),
        heldAfter: Math.round(held(after) / MIB),
        ms: Math.round(pauseMs),
      },
    );
    return true;
  }
}

function held(m: { heapTotal: number; external: number }): number {
  return m.heapTotal + m.external;
}
