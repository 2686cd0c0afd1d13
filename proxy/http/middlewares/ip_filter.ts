/**
 * `ip_allow` and `ip_deny`: the client's address (client_ip.ts: the peer's, or from a trusted
 * proxy's X-Forwarded-For) against CIDR blocks; a client outside `ip_allow` or inside `ip_deny`
 * gets 403 (reason `ip_denied`).
 *
 * Tested by ip_filter_test.ts.
 */
import type { IpFilterSpec, Middleware } from "../../config/types.ts";
import { inCidrs } from "../../net/cidr.ts";
import type { Built } from "./middleware.ts";
import { refusal } from "./middleware.ts";

export function ipFilter(def: IpFilterSpec & Middleware): Built {
  const allow = def.kind === "ip_allow";
  const cidrs = def.cidrs;
  const name = def.name;
  return {
    phase: {
      name,
      request(ctx) {
        const ip = ctx.clientIp;
        if (inCidrs(ip, cidrs) === allow) return undefined;
        throw refusal(name, "ip_denied", 403, `client address ${ip} refused by ${def.kind}`);
      },
    },
  };
}
