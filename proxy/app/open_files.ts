/**
 * File descriptors, the operator's side: the open-file limit checked at start, and
 * accepts that fail for want of descriptors, counted and logged (at most one line per listener
 * every LOG_EVERY_MS, with how many failed since the last).
 *
 * Tested by open_files_test.ts (Gatehouse in a child process under low limits).
 */
import type { Config } from "../config/types.ts";
import { libc } from "../internal/libc.ts";
import { openFileLimit } from "../internal/open_files.ts";
import type { AcceptFailure } from "../net/accept.ts";
import { log } from "../telemetry/log.ts";
import { LogThrottle } from "../telemetry/log_throttle.ts";

const logger = log("open_files");

/** Below this many descriptors (and no connection limit to size by) start warns. */
const LOW_LIMIT = 4096;
/** Descriptors Gatehouse holds besides connections (listeners, files, the runtime's own). */
const BASE_FDS = 64;
const LOG_EVERY_MS = 10_000;

const HOW_TO_RAISE = "raise it (docker run --ulimit nofile=65536, compose `ulimits: {nofile: " +
  "65536}`, systemd LimitNOFILE=65536)";

/**
 * Warns when the open-file limit (Deno raised the soft one to the hard one already) is too low
 * for `config`'s connection limits (two descriptors per proxied connection: the client's and its
 * upstream's) or, with no limit set, below LOW_LIMIT. Unknown without the C library: said once.
 */
export function checkOpenFiles(config: Config): void {
  const limit = openFileLimit();
  if (limit === null) {
    const lib = libc();
    const reason = "reason" in lib ? lib.reason : "getrlimit failed";
    logger.info("The open-file limit is not checked: {reason}", { reason });
    return;
  }
  const { soft, hard } = limit;
  // auto is sized by memory, not by intent: judged like no limit.
  const set = config.limits.maxConnections;
  const max = set === "auto" ? 0 : set;
  const need = max > 0 ? 2 * max + BASE_FDS : LOW_LIMIT;
  if (soft >= need) return;
  const why = max > 0
    ? `limits.max_connections ${max} needs about ${need} (a client's and an upstream's ` +
      `descriptor per connection)`
    : `about ${Math.floor((soft - BASE_FDS) / 2)} proxied connections at once`;
  logger.warning("The open-file limit is {soft} (hard limit {hard}): {why}; {how}", {
    soft,
    hard: hard === Infinity ? "unlimited" : hard,
    why,
    how: HOW_TO_RAISE,
  });
}

/** Counts and logs failed accepts; one per isolate. */
export class AcceptFailures {
  readonly #count: (entrypoint: string, failure: AcceptFailure) => void;
  readonly #everyMs: number;
  readonly #throttles = new Map<string, LogThrottle>();

  constructor(
    count: (entrypoint: string, failure: AcceptFailure) => void = () => {},
    everyMs = LOG_EVERY_MS,
  ) {
    this.#count = count;
    this.#everyMs = everyMs;
  }

  readonly report = (entrypoint: string, failure: AcceptFailure): void => {
    this.#count(entrypoint, failure);
    let throttle = this.#throttles.get(entrypoint);
    if (throttle === undefined) {
      this.#throttles.set(entrypoint, throttle = new LogThrottle(this.#everyMs));
    }
    if (!throttle.count()) return;
    const since = throttle.ever === throttle.since
      ? ""
      : ` (${throttle.since} accepts failed since the last line)`;
    throttle.logged();
    if (failure.reason === "open_files") {
      const limit = openFileLimit();
      logger.error(
        "Cannot accept connections on {entrypoint}: {message}{since}; new connections wait in " +
          "the kernel's queue until descriptors free up. The open-file limit is {limit}: {how}, " +
          "or set limits.max_connections below it",
        {
          entrypoint,
          message: failure.message,
          since,
          limit: limit?.soft ?? "unknown",
          how: HOW_TO_RAISE,
        },
      );
    } else {
      logger.error("Cannot accept connections on {entrypoint}: {message}{since}", {
        entrypoint,
        message: failure.message,
        since,
      });
    }
  };
}
