/**
 * Phase "entrypoint_policy": what the entrypoint decides for every request on it: a request that
 * arrives while its entrypoint is being removed gets 421, and a redirect entrypoint answers
 * everything with a 308 to its TLS entrypoint.
 *
 * Tested by handler_test.ts (redirects) and app/reloader_test.ts (removed entrypoints).
 */
import { proxyResponse } from "../../proto/responses.ts";
import type { OutgoingResponse } from "../../proto/message.ts";
import type { Phase, Snapshot } from "../context.ts";
import { ProxyFailure } from "../funnel.ts";
import { hostOf } from "../router.ts";

export const entrypointPolicy: Phase = {
  name: "entrypoint_policy",
  request(ctx) {
    const ep = ctx.config.entrypoints[ctx.entrypoint];
    if (ep === undefined || !ctx.snapshot.routers.has(ctx.entrypoint)) {
      throw new ProxyFailure(421, "drain", "entrypoint removed");
    }
    if (ep.redirect === null) return undefined;
    return redirect(ctx.authority, ctx.target, ctx.snapshot, ep.redirect);
  },
};

function redirect(
  authority: string,
  target: string,
  snap: Snapshot,
  to: { readonly to: string; readonly port: number | null },
): OutgoingResponse {
  const res = proxyResponse(308, "308 Permanent Redirect\n");
  const host = hostOf(authority) || snap.config.entrypoints[to.to].address.hostname;
  const bracketed = host.includes(":") ? `[${host}]` : host;
  const explicitPort = /^(\[[^\]]*\]|[^:]*):\d+$/.test(authority);
  const toPort = to.port ?? (explicitPort ? snap.port(to.to) ?? 443 : 443);
  const port = toPort === 443 ? "" : `:${toPort}`;
  res.headers.appendLower(
    "location",
    `https://${bracketed}${port}${target === "*" ? "/" : target}`,
  );
  return res;
}
