/**
 * `headers`: security presets (HSTS on HTTPS answers, X-Content-Type-Options,
 * X-Frame-Options, Referrer-Policy, Content-Security-Policy, Permissions-Policy), CORS
 * (cors.ts: preflights answered here), and header edits on the request and on every answer
 * (Gatehouse's own included). Preset values replace what the upstream sent.
 *
 * Tested by headers_test.ts.
 */
import type { HeadersSpec, Middleware } from "../../config/types.ts";
import { applyHeaderOps } from "../headers.ts";
import { CorsPolicy } from "./cors.ts";
import type { Built } from "./middleware.ts";
import { refusal } from "./middleware.ts";
import { requestScheme } from "./request_url.ts";

export function headers(def: HeadersSpec & Middleware): Built {
  const name = def.name;
  const cors = def.cors === null ? null : new CorsPolicy(def.cors);
  const fixed: [string, string][] = [];
  if (def.contentTypeNosniff) fixed.push(["x-content-type-options", "nosniff"]);
  if (def.frameOptions !== null) fixed.push(["x-frame-options", def.frameOptions]);
  if (def.referrerPolicy !== null) fixed.push(["referrer-policy", def.referrerPolicy]);
  if (def.contentSecurityPolicy !== null) {
    fixed.push(["content-security-policy", def.contentSecurityPolicy]);
  }
  if (def.permissionsPolicy !== null) fixed.push(["permissions-policy", def.permissionsPolicy]);
  const h = def.hsts;
  const hsts = h === null ? null : `max-age=${h.maxAge}` +
    (h.includeSubdomains ? "; includeSubDomains" : "") + (h.preload ? "; preload" : "");
  const editsRequest = def.request.set.length > 0 || def.request.remove.length > 0;
  return {
    phase: {
      name,
      request(ctx) {
        const req = ctx.req;
        if (cors !== null && cors.isPreflight(req)) {
          req.body?.cancel();
          const origin = req.headers.get("origin")!;
          if (!cors.allows(origin)) {
            throw refusal(name, "cors_origin", 403, `CORS preflight from origin ${origin} refused`);
          }
          ctx.log.answeredBy(name, null);
          return cors.preflight(req);
        }
        if (editsRequest) applyHeaderOps(req.headers, def.request);
        return undefined;
      },
      response(ctx, res) {
        const out = res.headers;
        for (let i = 0; i < fixed.length; i++) out.set(fixed[i][0], fixed[i][1]);
        if (hsts !== null && requestScheme(ctx) === "https") {
          out.set("strict-transport-security", hsts);
        }
        if (cors !== null && !(res.status === 204 && cors.isPreflight(ctx.req))) {
          cors.decorate(ctx.req, res);
        }
        applyHeaderOps(out, def.response);
        return res;
      },
    },
  };
}
