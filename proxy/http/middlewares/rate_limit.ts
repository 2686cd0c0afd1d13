/**
 * `rate_limit`: a token bucket per key (net/limit_store.ts: `burst` at once, `average` per
 * `period` on average; one bucket for every worker isolate, net/shared_limit_store.ts). Over it: 429 with Retry-After (reason `rate_limited`). Every answer
 * carries the bucket as the IETF draft's fields (draft-ietf-httpapi-ratelimit-headers):
 * `RateLimit-Policy: "<name>";q=<burst>;w=<seconds to fill the bucket>` and
 * `RateLimit: "<name>";r=<tokens left>;t=<seconds until it is full>`.
 *
 * Tested by rate_limit_test.ts.
 */
import type { Middleware, RateLimitSpec } from "../../config/types.ts";
import { limitKeyOf } from "./limit_key.ts";
import type { Built, MiddlewareDeps } from "./middleware.ts";
import { partition, refusal } from "./middleware.ts";
import { monotonicNow } from "../../clock.ts";

export function rateLimit(def: RateLimitSpec & Middleware, deps: MiddlewareDeps): Built {
  const name = def.name;
  const rate = { intervalMs: def.periodMs / def.average, burst: def.burst };
  const table = deps.limits.table(partition(def), def.maxKeys);
  const keyOf = limitKeyOf(def.key);
  const window = Math.max(1, Math.ceil((def.burst * rate.intervalMs) / 1000));
  const policy = `"${name}";q=${def.burst};w=${window}`;
  const prefix = `"${name}";r=`;
  return {
    phase: {
      name,
      request(ctx) {
        const taken = table.take(keyOf(ctx), rate, monotonicNow());
        if (taken.ok) return undefined;
        throw refusal(
          name,
          "rate_limited",
          429,
          `over rate_limit (${def.average} per ${def.periodMs} ms)`,
          {
            retryAfter: Math.max(1, Math.ceil(taken.waitMs / 1000)),
          },
        );
      },
      response(ctx, res) {
        const now = table.peek(keyOf(ctx), rate, monotonicNow());
        res.headers.appendLower("ratelimit-policy", policy);
        res.headers.appendLower(
          "ratelimit",
          prefix + now.remaining + ";t=" + Math.ceil(now.fullInMs / 1000),
        );
        return res;
      },
    },
    close: () => table.close(),
  };
}
