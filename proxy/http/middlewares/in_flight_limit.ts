/**
 * `in_flight_limit`: at most `amount` requests at once per key; one more gets 429 (reason
 * `too_many_in_flight`). A request counts until its response body is done (or failed, or its
 * tunnel ended), and ends its count exactly once (`ctx.atEnd`). With worker isolates the count
 * is one for all of them (net/shared_limit_store.ts).
 *
 * Tested by in_flight_limit_test.ts.
 */
import type { InFlightLimitSpec, Middleware } from "../../config/types.ts";
import type { LimitTable } from "../../net/limit_store.ts";
import { limitKeyOf } from "./limit_key.ts";
import type { Built, MiddlewareDeps } from "./middleware.ts";
import { partition, refusal } from "./middleware.ts";

export function inFlightLimit(def: InFlightLimitSpec & Middleware, deps: MiddlewareDeps): Built {
  const name = def.name;
  const amount = def.amount;
  const table = deps.limits.table(partition(def), 0);
  const keyOf = limitKeyOf(def.key);
  return {
    phase: {
      name,
      request(ctx) {
        const key = keyOf(ctx);
        if (!table.acquire(key, amount)) {
          throw refusal(name, "too_many_in_flight", 429, `over in_flight_limit (${amount})`, {
            retryAfter: 1,
          });
        }
        ctx.atEnd(releaser(table, key));
        return undefined;
      },
    },
    close: () => table.close(),
  };
}

/** Made outside the request step, so the closure holds the key and not the request. */
function releaser(table: LimitTable, key: string): () => void {
  return () => table.release(key);
}
