/**
 * Phase "checks": the request itself must be acceptable (method, target, the one authority,
 * "_" names; rules in request_checks.ts and docs/security.md). This is the one place the
 * authority routing and the upstream Host both use is decided. A client that is not a trusted
 * proxy loses here what only a proxy may say of a request (X-Forwarded-*, X-Original-URL...:
 * headers.ts, `isProxyClaim`), before any middleware reads the request or adds to it.
 *
 * Tested by framing_h1_test.ts, framing_h2_test.ts and rejection_test.ts.
 */
import { Rejection } from "../../proto/rejection.ts";
import type { Phase } from "../context.ts";
import { dropProxyClaims } from "../headers.ts";
import { checkRequest } from "../request_checks.ts";

export const checks: Phase = {
  name: "checks",
  request(ctx) {
    const checked = checkRequest(ctx.req, ctx.config.forwarding);
    if (checked instanceof Rejection) throw checked;
    ctx.log.checked(checked);
    ctx.authority = checked.authority;
    ctx.target = checked.target;
    ctx.upstreamTarget = checked.target;
    if (!ctx.trustedPeer) dropProxyClaims(ctx.req.headers);
    return undefined;
  },
};
