/**
 * Phase "route": the most specific route for the request's host, path, method and headers (see
 * router.ts), and the service it names; no route is the proxy's own 404 (`not_found`).
 * "OPTIONS *" is about the whole server: it takes the route of "/". A path the route does not
 * allow (target_rules.ts: encoded characters, dot segments with parameters) is refused here, once
 * the route is known. The route's `strip_prefix` is applied to the target the upstream gets here,
 * before the route's middlewares (a rewrite sees the stripped path), and a run of "/" that starts
 * the path is merged into one.
 *
 * Tested by router_test.ts, handler_test.ts and target_rules_test.ts.
 */
import type { Phase } from "../context.ts";
import { ProxyFailure } from "../funnel.ts";
import { hostOf, normalizePath } from "../router.ts";
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
    if (matched.stripPrefix && target !== "*") {
      const rest = ctx.path.slice(matched.match.pathPrefix.length);
      ctx.upstreamTarget = (rest.startsWith("/") ? rest : "/" + rest) +
        (q < 0 ? "" : target.slice(q));
    } else if (target.startsWith("//")) {
      // "//x/admin" is a scheme-relative reference to URL parsers: Node's documented
      // `new URL(req.url, base)` reads host "x", path "/admin". Routing read "/x/admin", so that
      // is what the upstream gets.
      ctx.upstreamTarget = target.replace(LEADING_SLASHES, "/");
    }
    const service = ctx.snapshot.services.get(matched.service);
    if (service !== undefined) {
      ctx.service = service;
      ctx.log.service = service.name;
    }
    return undefined;
  },
};
