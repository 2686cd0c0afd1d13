/**
 * `redirect`: answers with a redirect (`status`, Location) instead of passing the request on.
 * Three forms: a regex on the whole URL ("https://host:port/path?query") with a replacement
 * ($1, $<name>), fired when it matches; parts of the URL (scheme, host, port, path; the query
 * is kept), fired when the URL with them set differs from the request's; and `www: add` or
 * `remove`, fired when the host lacks or has "www.". The last two cannot fire twice in a row
 * by construction; a regex whose target matches itself is refused at config time
 * (resolve_middlewares.ts), and a target equal to the request's URL is never answered.
 *
 * Tested by redirect_test.ts.
 */
import type { Middleware, RedirectSpec } from "../../config/types.ts";
import { proxyResponse, reasonPhrase } from "../../proto/responses.ts";
import type { RequestContext } from "../context.ts";
import type { Built } from "./middleware.ts";
import { joinAuthority, requestScheme, splitAuthority } from "./request_url.ts";

export function redirect(def: RedirectSpec & Middleware): Built {
  const { name, status } = def;
  const target = locator(def.to);
  return {
    phase: {
      name,
      request(ctx) {
        if (ctx.target === "*" || ctx.authority === "") return undefined;
        const scheme = requestScheme(ctx);
        const [host, port] = splitAuthority(ctx.authority);
        const url = `${scheme}://${joinAuthority(scheme, host, port)}${ctx.target}`;
        const location = target(ctx, url, scheme, host, port);
        if (location === null || location === url) return undefined;
        ctx.req.body?.cancel();
        ctx.log.answeredBy(name, null);
        const res = proxyResponse(status, `${status} ${reasonPhrase(status)}: ${location}\n`);
        res.headers.appendLower("location", location);
        return res;
      },
    },
  };
}

type Locate = (
  ctx: RequestContext,
  url: string,
  scheme: string,
  host: string,
  port: number | null,
) => string | null;

/** Where a request goes, or null when this redirect does not apply to it. */
function locator(to: RedirectSpec["to"]): Locate {
  switch (to.form) {
    case "regex": {
      const re = new RegExp(to.regex);
      return (_ctx, url) => re.test(url) ? url.replace(re, to.replacement) : null;
    }
    case "www":
      return (ctx, _url, scheme, host, port) => {
        if (host.startsWith("[") || /^[\d.]+$/.test(host)) return null;
        const has = host.startsWith("www.");
        if (has === (to.www === "add")) return null;
        const next = has ? host.slice(4) : "www." + host;
        return `${scheme}://${joinAuthority(scheme, next, port)}${ctx.target}`;
      };
    case "parts":
      return (ctx, _url, scheme, host, port) => {
        const nextScheme = to.scheme ?? scheme;
        const nextPort = to.port ?? (nextScheme === scheme ? port : null);
        const q = ctx.target.indexOf("?");
        const path = to.path ?? (q < 0 ? ctx.target : ctx.target.slice(0, q));
        const query = q < 0 ? "" : ctx.target.slice(q);
        const authority = joinAuthority(nextScheme, to.host ?? host, nextPort);
        return `${nextScheme}://${authority}${path}${query}`;
      };
  }
}
