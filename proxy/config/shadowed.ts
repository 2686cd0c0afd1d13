/**
 * Routes that can never win: for every host it lists, an earlier route with the same rank (host,
 * path prefix, whether it constrains the method, how many header conditions; see
 * proxy/http/router.ts) takes every request it would. Such a route is not an error (the file
 * works), but almost always a mistake, so `check`, start-up and reloads warn about it.
 *
 * @module
 */
import type { Context } from "./context.ts";
import { describePos, quote } from "./errors.ts";
import type { RawRoute } from "./schema.ts";
import type { Route } from "./types.ts";

/** What a route's host list means to the router: each name, or "any host". */
function hostKeys(route: Route): readonly string[] {
  return route.match.hosts.length === 0 ? [""] : route.match.hosts;
}

/** Whether `a` takes every request `b` would, at the same rank (so the earlier one wins). */
function takesAllOf(a: Route, b: Route): boolean {
  const ma = a.match;
  const mb = b.match;
  const everywhere = a.entrypoints.length === 0;
  const entrypoints = everywhere ||
    (b.entrypoints.length > 0 && b.entrypoints.every((e) => a.entrypoints.includes(e)));
  const methods = (ma.methods.length === 0) === (mb.methods.length === 0) &&
    mb.methods.every((m) => ma.methods.includes(m));
  const headers = ma.headers.length === mb.headers.length &&
    ma.headers.every((h) =>
      mb.headers.some((g) => g.name === h.name && (h.value ?? g.value) === g.value)
    );
  return entrypoints && samePrefixes(ma, mb) && methods && headers;
}

/** True when every path `b`'s prefix takes, `a`'s takes too (same prefix, case as it applies). */
function samePrefixes(a: Route["match"], b: Route["match"]): boolean {
  if (a.caseSensitive) return b.caseSensitive && a.pathPrefix === b.pathPrefix;
  return foldAscii(a.pathPrefix) === foldAscii(b.pathPrefix);
}

/** A-Z lowered, nothing else: the fold the router applies to `case_sensitive: false` prefixes. */
function foldAscii(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

function describe(route: Route): string {
  const hosts = route.match.hosts.length === 0
    ? "any host"
    : `host ${route.match.hosts.map(quote).join(", ")}`;
  return `${hosts}, path ${quote(route.match.pathPrefix)}`;
}

/** Warns at each route of `routes` (decoded from `raw`) that an earlier route shadows. */
export function warnShadowedRoutes(ctx: Context, raw: readonly RawRoute[], routes: Route[]): void {
  routes.forEach((route, i) => {
    const earlier = routes.slice(0, i);
    const shadows = new Set<Route>();
    for (const key of hostKeys(route)) {
      const winner = earlier.find((a) => hostKeys(a).includes(key) && takesAllOf(a, route));
      if (winner === undefined) return;
      shadows.add(winner);
    }
    const by = [...shadows].map((a) => `route ${quote(a.name)} (${describePos(a.pos)})`).join(", ");
    ctx.warn(
      ctx.path(raw[i]),
      `route ${quote(route.name)} can never match: ${by} comes first and takes the same ` +
        `requests (${describe(route)}); give it another host or path, or remove one of them`,
    );
  });
}
