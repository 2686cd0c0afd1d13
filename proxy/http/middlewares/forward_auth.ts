/**
 * `forward_auth`: before the request goes on, a GET subrequest to an auth service (Authelia,
 * oauth2-proxy, Authentik style) asks whether it may. The subrequest goes through the upstream
 * machinery (the service's servers, transports, health and the one attempt loop) with the
 * client's fields (all but hop-by-hop, framing and proxy-claim ones, or the listed ones) and
 * X-Forwarded-Method/-Proto/-Host/-Uri/-For, X-Real-IP, X-Original-Method and X-Original-URL. A
 * 2xx answer lets the request through, with the configured fields of that answer copied onto it
 * (the client's own fields of those names are removed first, so a client cannot pose as a user);
 * any other answer goes back to the client as it is (a 302 to a login page, a 401...), reason
 * `denied`. The auth service not answering in `timeout` is 504 (reason `auth_timeout`), not
 * reachable or failing 502 (`auth_failed`), no server available 503 (`auth_unavailable`): the
 * request never passes without an answer.
 *
 * Tested by forward_auth_test.ts.
 */
import type { ForwardAuthSpec, Middleware } from "../../config/types.ts";
import { HeaderList } from "../../proto/header_list.ts";
import type { RequestContext } from "../context.ts";
import { isProxyClaim, stripHopByHop } from "../headers.ts";
import { normalizedTarget } from "../router.ts";
import { isUnixAddress } from "../../net/unix_socket.ts";
import type { Built } from "./middleware.ts";
import { refusal } from "./middleware.ts";
import { requestScheme } from "./request_url.ts";
import { askService } from "./subrequest.ts";
import { monotonicNow } from "../../clock.ts";

/** Fields never sent to the auth service: they describe the client's message, not the client. */
const FRAMING = new Set(["host", "content-length", "transfer-encoding", "expect", "upgrade"]);

export function forwardAuth(def: ForwardAuthSpec & Middleware): Built {
  const { name } = def;
  const wanted = def.requestHeaders === null ? null : new Set(def.requestHeaders);
  return {
    phase: {
      name,
      async request(ctx) {
        const service = ctx.snapshot.services.get(def.service);
        if (service === undefined) throw new Error(`service "${def.service}" missing at run time`);
        const headers = subrequestHeaders(ctx, wanted);
        const { result, timedOut } = await askService(ctx, service, def.path, headers, def.timeout);
        const asked = `the auth service "${def.service}"`;
        if (!result.ok) {
          if (ctx.req.signal.aborted) {
            throw refusal(name, "aborted", 499, "client went away during forward_auth");
          }
          if (result.error === null) {
            throw refusal(name, "auth_unavailable", 503, `no available server in ${asked}`, {
              source: "unavailable",
              retryAfter: service.retryAfterSeconds(monotonicNow()),
            });
          }
          if (timedOut) {
            const message = `${asked} did not answer within ${def.timeout / 1000}s`;
            throw refusal(name, "auth_timeout", 504, message, { source: "upstream" });
          }
          throw refusal(name, "auth_failed", 502, `Cannot ask ${asked}: ${result.error.message}`, {
            source: "upstream",
          });
        }
        const res = result.value;
        if (res.status >= 200 && res.status < 300) {
          res.body?.cancel();
          result.lease.release();
          const upstreamHeaders = ctx.req.headers;
          for (const field of def.responseHeaders) {
            upstreamHeaders.delete(field);
            for (let i = 0; i < res.headers.size; i++) {
              if (res.headers.keys[i] === field) {
                upstreamHeaders.appendLower(field, res.headers.values[i]);
              }
            }
          }
          return undefined;
        }
        ctx.atEnd(() => result.lease.release());
        ctx.req.body?.cancel();
        ctx.log.answeredBy(name, "denied");
        ctx.log.fail("client", `${asked} answered ${res.status}`, null);
        stripHopByHop(res.headers);
        return { status: res.status, reason: res.reason, headers: res.headers, body: res.body };
      },
    },
  };
}

/**
 * The auth service's request fields: the client's (all or the wanted ones; none that is a proxy
 * claim, headers.ts) and Gatehouse's own X-Forwarded-*, X-Real-IP, X-Original-Method and
 * X-Original-URL.
 */
function subrequestHeaders(ctx: RequestContext, wanted: ReadonlySet<string> | null): HeaderList {
  const client = ctx.req.headers;
  const out = new HeaderList();
  let cookie: string | null = null;
  for (let i = 0; i < client.size; i++) {
    const key = client.keys[i];
    if (isProxyClaim(key) || FRAMING.has(key)) continue;
    if (wanted !== null && !wanted.has(key)) continue;
    // HTTP/2 may split Cookie into several fields; HTTP/1.1 wants one (RFC 9113 8.2.3).
    if (key === "cookie") {
      cookie = cookie === null ? client.values[i] : `${cookie}; ${client.values[i]}`;
    } else out.append(client.names[i], client.values[i]);
  }
  if (cookie !== null) out.appendLower("cookie", cookie);
  stripHopByHop(out);
  out.appendLower("x-forwarded-method", ctx.req.method);
  out.appendLower("x-forwarded-proto", requestScheme(ctx));
  if (ctx.authority !== "") out.appendLower("x-forwarded-host", ctx.authority);
  // The URI as routing read it: an auth service that matched rules on the raw path would allow
  // "/public/../admin" as under "/public", which routing and the upstream read as "/admin".
  const uri = normalizedTarget(ctx.target, ctx.path);
  out.appendLower("x-forwarded-uri", uri);
  out.appendLower("x-forwarded-for", ctx.clientIp);
  if (!isUnixAddress(ctx.clientIp)) out.appendLower("x-real-ip", ctx.clientIp);
  // What nginx's auth_request setups send, and Authelia's auth-request and legacy verify
  // endpoints decide on in place of X-Forwarded-*.
  out.appendLower("x-original-method", ctx.req.method);
  if (ctx.authority !== "" && uri !== "*") {
    out.appendLower("x-original-url", `${requestScheme(ctx)}://${ctx.authority}${uri}`);
  }
  return out;
}
