/**
 * One middleware definition to its built phase: the one place that maps a kind to the file
 * that implements it.
 *
 * Tested through each kind's tests.
 */
import type { Middleware } from "../../config/types.ts";
import { bodyLimit } from "./body_limit.ts";
import { headers } from "./headers.ts";
import { ipFilter } from "./ip_filter.ts";
import { inFlightLimit } from "./in_flight_limit.ts";
import { rateLimit } from "./rate_limit.ts";
import { redirect } from "./redirect.ts";
import { retry } from "./retry.ts";
import { rewrite } from "./rewrite.ts";
import type { Built, SharedServices } from "./middleware.ts";
import { basicAuth } from "./basic_auth.ts";
import { errorPages } from "./error_pages.ts";
import { forwardAuth } from "./forward_auth.ts";

export function buildMiddleware(def: Middleware, deps: SharedServices): Built {
  switch (def.kind) {
    case "ip_allow":
    case "ip_deny":
      return ipFilter(def);
    case "headers":
      return headers(def);
    case "body_limit":
      return bodyLimit(def);
    case "rate_limit":
      return rateLimit(def, deps);
    case "in_flight_limit":
      return inFlightLimit(def, deps);
    case "redirect":
      return redirect(def);
    case "rewrite":
      return rewrite(def);
    case "basic_auth":
      return basicAuth(def, deps);
    case "forward_auth":
      return forwardAuth(def);
    case "errors":
      return errorPages(def);
    case "retry":
      return retry(def);
  }
}
