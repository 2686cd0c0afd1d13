/**
 * Phase "response_headers": an upstream's answer (a 101's head included) loses its hop-by-hop
 * fields (a 101 keeps Upgrade), its Content-Length goes as one plain number, it gets Via and the
 * request id, then the route's header operations.
 * Gatehouse's own answers are left as they are.
 *
 * Tested by handler_headers_test.ts and upgrade_wire_test.ts (the 101 head).
 */
import { applyHeaderOps, canonicalContentLength, stripHopByHop } from "../headers.ts";
import type { Phase } from "../context.ts";

export const responseHeaders: Phase = {
  name: "response_headers",
  response(ctx, res) {
    if (!ctx.fromUpstream) return res;
    const headers = res.headers;
    const fwd = ctx.config.forwarding;
    const transferEncoded = headers.has("transfer-encoding");
    stripHopByHop(headers, res.status === 101 ? headers.get("upgrade") ?? "" : null);
    canonicalContentLength(headers, transferEncoded);
    const via = headers.getJoined("via");
    const viaValue = ctx.upstreamVersion + " " + fwd.via;
    headers.set("via", via === null ? viaValue : via + ", " + viaValue);
    if (!headers.has(fwd.requestIdHeader)) {
      headers.appendLower(fwd.requestIdHeader, ctx.log.requestId);
    }
    applyHeaderOps(headers, ctx.route!.responseHeaders);
    return res;
  },
};
