/**
 * The one pick-and-retry loop, for HTTP requests, upgrades and TCP streams alike: pick a server
 * the request has not tried, count the attempt in flight on it, run it, and on failure record
 * passive health and try another server while the caller says that is safe and the service's
 * `retries` allow. What an attempt is (an HTTP exchange, a TCP connect) is the caller's.
 *
 * A route's `retry` middleware replaces the service's count with its own policy: `attempts` in
 * all, servers tried again once every one was tried, and a backoff that doubles before each new
 * attempt. The caller's judge still says which failures are safe to retry at all.
 *
 * Tested by attempts_test.ts.
 */
import type { UpstreamError } from "../proto/exchange.ts";
import type { InflightLease } from "./inflight.ts";
import type { UpstreamServer } from "./server_state.ts";
import type { ServiceRuntime } from "./service.ts";
import { monotonicNow } from "../clock.ts";

/** How a failed attempt counts. */
export interface Failure {
  readonly error: UpstreamError;
  /** The server failed (connect, reset, timeout): counts towards passive ejection. */
  readonly serverFault: boolean;
  /** Another server may be tried (nothing was sent that cannot be sent again). */
  readonly retry: boolean;
}

/** What the loop runs on each server, and how it judges a failure. */
export interface AttemptPlan<T> {
  /** One attempt on `server`; rejects when it failed. */
  run(server: UpstreamServer): Promise<T>;
  /** What the rejection of `run` means. */
  judge(err: unknown): Failure;
}

/** The outcome of the loop. On success the lease keeps counting until the caller releases it. */
export type Attempted<T> =
  | {
    readonly ok: true;
    readonly value: T;
    readonly server: UpstreamServer;
    readonly lease: InflightLease;
    readonly attempts: number;
  }
  | {
    readonly ok: false;
    /** The last attempt's error; null when no server could be picked at all. */
    readonly error: UpstreamError | null;
    readonly server: UpstreamServer | null;
    readonly attempts: number;
  };

/** Which failures a retry policy retries (the safe-retry rules still apply). */
export type RetryOn = "connect" | "reset" | "timeout";

/** A route's retry policy (the `retry` middleware). */
export interface RetryPolicy {
  /** Attempts in all, the first one included. */
  readonly attempts: number;
  readonly on: ReadonlySet<RetryOn>;
  /** Milliseconds before the second attempt; doubled before each later one. */
  readonly backoffMs: number;
}

export interface AttemptContext {
  /** For ip_hash balancing. */
  readonly clientIp: string;
  /** Once aborted, no further attempt starts. */
  readonly signal: AbortSignal;
  /** The route's retry policy; without one, the service's `retries`. */
  readonly retry?: RetryPolicy | null;
}

/** Runs `plan` on servers of `service` until one attempt succeeds or retrying must stop. */
export async function attemptServers<T>(
  service: ServiceRuntime,
  ctx: AttemptContext,
  plan: AttemptPlan<T>,
): Promise<Attempted<T>> {
  const tried = new Set<UpstreamServer>();
  const policy = ctx.retry ?? null;
  const maxAttempts = policy?.attempts ?? 1 + service.config.retries;
  let last: { error: UpstreamError; server: UpstreamServer } | null = null;
  let attempts = 0;
  while (attempts < maxAttempts && !ctx.signal.aborted) {
    if (attempts > 0 && policy !== null && policy.backoffMs > 0) {
      await backoff(policy.backoffMs * 2 ** (attempts - 1), ctx.signal);
      if (ctx.signal.aborted) break;
    }
    let server = service.pick({ clientIp: ctx.clientIp, tried, now: monotonicNow() });
    if (server === null && policy !== null && tried.size > 0) {
      // Every server was tried: a policy tries them again.
      tried.clear();
      server = service.pick({ clientIp: ctx.clientIp, tried, now: monotonicNow() });
    }
    if (server === null) break;
    tried.add(server);
    attempts++;
    const lease = server.acquire();
    let failure: Failure;
    try {
      const value = await plan.run(server);
      server.recordSuccess();
      return { ok: true, value, server, lease, attempts };
    } catch (err) {
      lease.release();
      failure = plan.judge(err);
    }
    if (failure.serverFault) service.recordFailure(server, monotonicNow());
    last = { error: failure.error, server };
    if (!failure.retry) break;
  }
  return { ok: false, error: last?.error ?? null, server: last?.server ?? null, attempts };
}

/** Waits `ms`, or less when `signal` aborts first. */
function backoff(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
