/**
 * The one place that decides a request's authority (the Host routing sees) and the Host its
 * upstream request carries.
 *
 * An authority is `host [":" port]` (RFC 3986 3.2, without userinfo), where host is an
 * IP-literal (`[` IPv6 `]`) or a name of letters, digits, "-", ".", "_" and "~" (which covers
 * IPv4). RFC 3986's reg-name also allows sub-delims (`!$&'()*+,;=`) and percent-encoding: no
 * DNS name uses them, and a `,` makes a Host look like a list, so they are refused.
 */
import { ipAddressBytes } from "../net/ip_address.ts";
import type { ServerRef } from "../config/types.ts";
import { serverAuthority } from "../upstream/server_state.ts";

const NAME = /^[a-z0-9._~-]+$/;
const PORT = /^[0-9]{1,5}$/;
/** Longest authority accepted (a 253-character DNS name, a colon and a port). */
const MAX_AUTHORITY = 260;

/**
 * `value` as a lowercase authority, "" for an empty value, or null when it is not a valid
 * authority (see the module doc).
 */
export function parseAuthority(value: string): string | null {
  if (value === "") return "";
  if (value.length > MAX_AUTHORITY) return null;
  const lower = value.toLowerCase();
  let portAt: number;
  if (lower.charCodeAt(0) === 0x5b /* [ */) {
    const close = lower.indexOf("]");
    if (close < 0 || !isIpv6(lower.slice(1, close))) return null;
    portAt = close + 1;
    if (portAt < lower.length && lower.charCodeAt(portAt) !== 0x3a /* : */) return null;
  } else {
    const colon = lower.indexOf(":");
    portAt = colon < 0 ? lower.length : colon;
    if (portAt === 0 || !NAME.test(lower.slice(0, portAt))) return null;
  }
  if (portAt < lower.length) {
    const port = lower.slice(portAt + 1);
    if (!PORT.test(port) || Number(port) > 65535) return null;
  }
  return lower;
}

function isIpv6(text: string): boolean {
  try {
    return ipAddressBytes(text).length === 16;
  } catch {
    return false;
  }
}

/**
 * The Host sent to `server` for a request whose authority is `authority` ("" when the client
 * sent none), under the service's `host` setting: "preserve" keeps the client's (the server
 * URL's authority when there is none: never an empty Host), "upstream" sends the server URL's,
 * anything else is sent as it is.
 */
export function upstreamHost(policy: string, authority: string, server: ServerRef): string {
  if (policy === "preserve") return authority !== "" ? authority : serverAuthority(server);
  if (policy === "upstream") return serverAuthority(server);
  return policy;
}
