/**
 * The client's address as middlewares see it (ip_allow, ip_deny, rate and in-flight limit
 * keys): the peer's (after the listener applied a trusted PROXY protocol header), or, when the
 * peer is one of `forwarding.trusted_proxies`, an address from its X-Forwarded-For:
 * `client_ip_depth` 0 takes the rightmost address that is not a trusted proxy, N the Nth from
 * the right. An entry that is not an IP address stops the walk at the last good one: a trusted
 * proxy wrote it wrong, and an earlier entry could be anything.
 *
 * Tested by client_ip_test.ts.
 */
import type { Cidr } from "../config/types.ts";
import { inCidrs } from "../net/cidr.ts";
import { ipAddressBytes } from "../net/ip_address.ts";
import type { HeaderList } from "../proto/header_list.ts";

export interface ClientIpRules {
  readonly trustedProxies: readonly Cidr[];
  readonly clientIpDepth: number;
}

/** The client address for `peer` with these request `headers`. */
export function clientIp(peer: string, headers: HeaderList, rules: ClientIpRules): string {
  if (!inCidrs(peer, rules.trustedProxies)) return peer;
  const xff = headers.getJoined("x-forwarded-for");
  if (xff === null) return peer;
  const hops = xff.split(",");
  let client = peer;
  for (let i = hops.length - 1, n = 1; i >= 0; i--, n++) {
    const hop = unbracket(hops[i].trim());
    if (!isIp(hop)) return client;
    client = hop;
    if (rules.clientIpDepth > 0 ? n === rules.clientIpDepth : !inCidrs(hop, rules.trustedProxies)) {
      return hop;
    }
  }
  return client;
}

/** "[::1]" and "[::1]:80" as "::1"; "1.2.3.4:80" as "1.2.3.4" (some proxies add the port). */
function unbracket(hop: string): string {
  if (hop.startsWith("[")) {
    const end = hop.indexOf("]");
    return end < 0 ? hop : hop.slice(1, end);
  }
  const colon = hop.indexOf(":");
  return colon > 0 && hop.indexOf(":", colon + 1) < 0 ? hop.slice(0, colon) : hop;
}

function isIp(text: string): boolean {
  try {
    ipAddressBytes(text);
    return true;
  } catch {
    return false;
  }
}
