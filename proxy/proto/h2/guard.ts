/**
 * Defences of an HTTP/2 connection against peers that make it work for nothing, and the counters
 * they feed.
 *
 * Each kind of cheap-to-send, costly-to-handle frame has a token bucket per connection: a burst,
 * refilled at a steady rate. A peer that empties one gets GOAWAY ENHANCE_YOUR_CALM and the
 * connection closes; the event is counted in `H2Stats` (one object shared by any number of
 * connections; the lead wires it to Prometheus) and reported through `onEvent` for the log.
 *
 * - rapid reset (CVE-2023-44487): streams the peer resets, and streams this side resets because
 *   of the peer's errors (the "made you reset" variant);
 * - PING and SETTINGS floods (each needs an answer); a PING the peer sends after this side sent
 *   stream data since its last PING is free (gRPC's BDP probes look like that);
 * - empty DATA frames without END_STREAM, WINDOW_UPDATEs of less than 1 KiB on a stream, and
 *   PRIORITY frames (all accepted and ignored: RFC 9113 5.3.2);
 * - CONTINUATION floods and header lists over the limit are bounded where the header block is
 *   assembled (connection.ts); a peer that stops reading while making this side answer is
 *   bounded by the writer's backlog limit (writer.ts).
 *
 * @module
 */

/** Counters of defensive actions and protocol errors, summed over every connection given it. */
export interface H2Stats {
  /** Connections closed with ENHANCE_YOUR_CALM for resetting streams too fast. */
  rapidReset: number;
  /** Connections closed for CONTINUATION frames beyond the header block limits. */
  continuationFlood: number;
  /** Header blocks whose decoded list exceeded SETTINGS_MAX_HEADER_LIST_SIZE (431 / reset). */
  headerListTooLarge: number;
  settingsFlood: number;
  pingFlood: number;
  emptyDataFlood: number;
  windowUpdateFlood: number;
  priorityFlood: number;
  /** Connections closed because the peer did not read what it made this side queue. */
  writeBacklog: number;
  /** Streams refused beyond SETTINGS_MAX_CONCURRENT_STREAMS. */
  refusedStreams: number;
  /** Requests or responses reset as malformed (RFC 9113 8.1.1). */
  malformedMessages: number;
  /** Connections ended by a protocol error of the peer (GOAWAY with an error code). */
  connectionErrors: number;
  /** Stream errors this side sent (RST_STREAM with an error code), malformed messages included. */
  streamErrors: number;
  /** Times a sender paused because the peer's flow-control window was empty. */
  flowControlStalls: number;
}

export function createH2Stats(): H2Stats {
  return {
    rapidReset: 0,
    continuationFlood: 0,
    headerListTooLarge: 0,
    settingsFlood: 0,
    pingFlood: 0,
    emptyDataFlood: 0,
    windowUpdateFlood: 0,
    priorityFlood: 0,
    writeBacklog: 0,
    refusedStreams: 0,
    malformedMessages: 0,
    connectionErrors: 0,
    streamErrors: 0,
    flowControlStalls: 0,
  };
}

/** A burst and a steady rate: `burst` events at once, then `perSecond` on average. */
export interface Budget {
  readonly burst: number;
  readonly perSecond: number;
}

/** Budgets per connection for each flood kind; defaults from `DEFAULT_BUDGETS`. */
export interface H2Budgets {
  readonly resets: Budget;
  readonly pings: Budget;
  readonly settings: Budget;
  readonly emptyData: Budget;
  readonly smallWindowUpdates: Budget;
  readonly priority: Budget;
}

export const DEFAULT_BUDGETS: H2Budgets = {
  resets: { burst: 200, perSecond: 50 },
  pings: { burst: 100, perSecond: 10 },
  settings: { burst: 50, perSecond: 5 },
  emptyData: { burst: 200, perSecond: 50 },
  smallWindowUpdates: { burst: 500, perSecond: 100 },
  priority: { burst: 500, perSecond: 100 },
};

/** A token bucket (time from `performance.now()`). */
export class TokenBucket {
  #tokens: number;
  #last = performance.now();
  constructor(readonly budget: Budget) {
    this.#tokens = budget.burst;
  }

  /** Takes one token; false when none is left. */
  take(): boolean {
    if (this.#tokens >= 1) {
      this.#tokens--;
      return true;
    }
    const now = performance.now();
    this.#tokens = Math.min(
      this.budget.burst,
      this.#tokens + ((now - this.#last) / 1000) * this.budget.perSecond,
    );
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }
}

/** The kinds a `FloodGuard` watches, each with the H2Stats counter it feeds. */
export type FloodKind = keyof H2Budgets;

const COUNTER: Record<FloodKind, keyof H2Stats> = {
  resets: "rapidReset",
  pings: "pingFlood",
  settings: "settingsFlood",
  emptyData: "emptyDataFlood",
  smallWindowUpdates: "windowUpdateFlood",
  priority: "priorityFlood",
};

/** One connection's buckets (created on first use: most connections never need most of them). */
export class FloodGuard {
  readonly #budgets: H2Budgets;
  readonly #buckets: Partial<Record<FloodKind, TokenBucket>> = {};

  constructor(budgets: H2Budgets) {
    this.#budgets = budgets;
  }

  /** Accounts one event; returns the H2Stats counter to bump when the budget is exhausted. */
  spend(kind: FloodKind): keyof H2Stats | null {
    const bucket = this.#buckets[kind] ??= new TokenBucket(this.#budgets[kind]);
    return bucket.take() ? null : COUNTER[kind];
  }
}
