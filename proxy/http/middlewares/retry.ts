/**
 * `retry`: the route's retry policy, for the upstream phase's one attempt loop
 * (upstream/attempts.ts): how many attempts in all, which failures (connect, reset, timeout) are
 * retried, and the backoff before each new attempt. It never makes an unsafe retry: a request
 * whose body started to go, or a non-idempotent request the server may have acted on, is not
 * sent again (http/forward.ts judges).
 *
 * Tested by retry_test.ts.
 */
import type { Middleware, RetrySpec } from "../../config/types.ts";
import type { RetryPolicy } from "../../upstream/attempts.ts";
import type { Built } from "./middleware.ts";

export function retry(def: RetrySpec & Middleware): Built {
  const policy: RetryPolicy = {
    attempts: def.attempts,
    on: new Set(def.on),
    backoffMs: def.backoffMs,
  };
  return {
    phase: {
      name: def.name,
      request(ctx) {
        ctx.retry = policy;
        return undefined;
      },
    },
  };
}
