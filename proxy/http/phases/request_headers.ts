/**
 * Phase "request_headers": what the upstream request carries: hop-by-hop fields and those
 * Connection names removed (Upgrade and "Connection: upgrade" put back for a tunnel),
 * X-Forwarded-For/Proto/Host, Forwarded, X-Real-IP and Via (kept and extended only from trusted
 * proxies; anyone else's proxy claims went in the checks phase), and the route's header
 * operations.
 *
 * Tested by handler_headers_test.ts.
 */
import { listHasToken } from "../../proto/header_list.ts";
import type { IncomingRequest } from "../../proto/message.ts";
import type { Route } from "../../config/types.ts";
import type { Phase } from "../context.ts";
import { applyForwarding, applyHeaderOps, stripHopByHop } from "../headers.ts";

export const requestHeaders: Phase = {
  name: "request_headers",
  request(ctx) {
    const req = ctx.req;
    const route = ctx.route!;
    const fwd = ctx.config.forwarding;
    const headers = req.headers;
    ctx.upgrade = upgradeProtocol(req, route);
    stripHopByHop(headers, ctx.upgrade);
    const trusted = ctx.trustedPeer;
    applyForwarding(headers, {
      client: req.client,
      trusted,
      proto: req.client.tls ? "https" : "http",
      host: ctx.authority,
      via: (req.httpVersion === "2" ? "2 " : req.httpVersion + " ") + fwd.via,
      clientIp: trusted ? ctx.clientIp : req.client.address,
    });
    applyHeaderOps(headers, route.requestHeaders);
    return undefined;
  },
};

/** The Upgrade protocol to tunnel, or null when this request is not (or may not be) a tunnel. */
function upgradeProtocol(req: IncomingRequest, route: Route): string | null {
  if (!route.upgrade || req.takeover === null || req.body !== null) return null;
  const upgrade = req.headers.get("upgrade");
  if (upgrade === null || !listHasToken(req.headers.getJoined("connection"), "upgrade")) {
    return null;
  }
  return upgrade;
}
