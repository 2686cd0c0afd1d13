/**
 * Phase "internal_services": routes whose service is built into Gatehouse ("name@internal": the
 * welcome page, the metrics) are answered here, without an upstream.
 *
 * Tested by welcome_test.ts and telemetry/metrics_test.ts (metrics@internal).
 */
import type { Phase } from "../context.ts";
import { welcomeResponse } from "../welcome.ts";

export const internalServices: Phase = {
  name: "internal_services",
  request(ctx) {
    const name = ctx.route!.service;
    if (name === "welcome@internal") return welcomeResponse(ctx.config);
    const internal = ctx.deps.internal?.get(name);
    if (internal === undefined) return undefined;
    ctx.req.body?.cancel();
    return internal(ctx.req);
  },
};
