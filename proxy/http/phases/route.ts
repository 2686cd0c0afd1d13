/**
 * Phase "route": the most specific route for the request's host, path, method and headers (see
 * router.ts), and the service it names; no route is the proxy's own 404 (`not_found`).
 * "OPTIONS *" is about the whole server: it takes the route of "/". A path the route does not
 * allow (target_rules.ts: encoded characters, dot segments with parameters) is refused here, once
 * the route is known. The target the upstream gets is settled here, before the route's
 * middlewares (a rewrite sees it): the normalised path routing matched, with `strip_prefix`
 * applied, or the client's path with `forward_path: as_sent` (see forwardedTarget).
 *
 * Tested by router_test.ts, handler_test.ts and target_rules_test.ts.
 */
import type { Route } from "../../config/types.ts";
import type { Phase } from "../context.ts";
import { ProxyFailure } from "../funnel.ts";
import { hostOf, normalizedTarget, normalizePath } from "../router.ts";
import { pathProblem } from "../target_rules.ts";

const LEADING_SLASHES = /^\/{2,}/;

export const route: Phase = {
  name: "route",
  request(ctx) {
    const target = ctx.target;
    const q = target.indexOf("?");
    const rawPath = q < 0 ? target : target.slice(0, q);
    ctx.path = rawPath === "*" ? "/" : normalizePath(rawPath);
    const router = ctx.snapshot.routers.get(ctx.entrypoint)!;
    const req = ctx.req;
    const matched = router.match(hostOf(ctx.authority), ctx.path, req.method, req.headers);
    if (matched === null) {
      const nf = ctx.config.notFound;
      throw new ProxyFailure(nf.status, "client", "no route", { text: nf.body });
    }
    ctx.route = matched;
    ctx.log.route = matched.name;
    const encoded = pathProblem(ctx.path, matched.allowEncoded);
    if (encoded !== null) throw encoded;
    if (target !== "*") ctx.upstreamTarget = forwardedTarget(target, ctx.path, matched);
    if (ctx.upstreamTarget !== target) ctx.log.upstreamTarget = ctx.upstreamTarget;
    const service = ctx.snapshot.services.get(matched.service);
    if (service !== undefined) {
      ctx.service = service;
      ctx.log.service = service.name;
    }
    return undefined;
  },
};

/**
 * The target the upstream gets: the path routing matched (normalised; `strip_prefix` cuts the
 * prefix from it) with the query as sent, or with `forward_path: as_sent` the client's target.
 * Either way no path starts with "//": that is a scheme-relative reference to URL parsers (Node's
 * documented `new URL(req.url, base)` reads "//x/admin" as host "x", path "/admin").
 */
function forwardedTarget(target: string, path: string, route: Route): string {
  if (route.stripPrefix) {
    const rest = path.slice(route.match.pathPrefix.length);
    const q = target.indexOf("?");
    return (rest.startsWith("/") ? rest : "/" + rest) + (q < 0 ? "" : target.slice(q));
  }
  if (route.forwardPath === "normalized") return normalizedTarget(target, path);
  return target.startsWith("//") ? target.replace(LEADING_SLASHES, "/") : target;
}
