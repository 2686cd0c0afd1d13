/**
 * The request's URL as the client sees it, for the middlewares that reason about it (HSTS,
 * redirects): its scheme (https over TLS here, or when a trusted proxy says it terminated TLS
 * with X-Forwarded-Proto), and the authority and target the checks phase settled.
 *
 * Tested by headers_test.ts and redirect_test.ts.
 */
import { inCidrs } from "../../net/cidr.ts";
import type { RequestContext } from "../context.ts";

/** "https" or "http", as the client sees it. */
export function requestScheme(ctx: RequestContext): "https" | "http" {
  const req = ctx.req;
  if (req.client.tls) return "https";
  if (!inCidrs(req.client.address, ctx.config.forwarding.trustedProxies)) return "http";
  return req.headers.get("x-forwarded-proto")?.toLowerCase() === "https" ? "https" : "http";
}

/** Host and port of an authority ("[::1]:8443" -> ["[::1]", 8443]); port null when absent. */
export function splitAuthority(authority: string): [string, number | null] {
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(authority);
  if (m === null) return [authority, null];
  return [m[1].toLowerCase(), m[2] === undefined ? null : Number(m[2])];
}

/** "host" or "host:port", leaving out the scheme's default port. */
export function joinAuthority(scheme: string, host: string, port: number | null): string {
  const fallback = scheme === "https" ? 443 : 80;
  return port === null || port === fallback ? host : `${host}:${port}`;
}
