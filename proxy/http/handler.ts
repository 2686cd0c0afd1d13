/**
 * The request pipeline, in its one fixed order:
 *   0. request checks (method, target, the one authority, "_" names; request_checks.ts),
 *      then ACME HTTP-01 challenge answers (before any redirect; unknown tokens go on)
 *   1. entrypoint policy (redirect to HTTPS)   2. route           3. request limits
 *   4. upstream request headers and target     5. forward, or upgrade to a tunnel
 *   6. response headers                         7. compression (content coding)
 *   8. access log (when the body is done)
 * Every request reads the routing snapshot once at its start, so a reload applies to the next
 * request and never to one in progress.
 */
import type { Config, Route } from "../config/types.ts";
import type { AccessRecord } from "../telemetry/records.ts";
import type { ServiceRuntime } from "../upstream/service.ts";
import { codingFacts, compressResponse } from "./compress/stage.ts";
import { tapBody } from "../proto/body_tap.ts";
import { DRAIN_CUT_TEXT, proxyResponse, RequestError } from "../proto/responses.ts";
import { forward, type ForwardRequest } from "./forward.ts";
import { type HeaderList, listHasToken } from "../proto/header_list.ts";
import { applyForwarding, applyHeaderOps, requestId, stripHopByHop } from "./headers.ts";
import { inCidrs } from "../net/cidr.ts";
import {
  type BodyReader,
  type Handler,
  type IncomingRequest,
  type OutgoingResponse,
  TAKEN_OVER,
} from "../proto/message.ts";
import { checkRequest } from "./request_checks.ts";
import { Rejection } from "../proto/rejection.ts";
import { RequestLog } from "./request_log.ts";
import { hostOf, normalizePath, type Router } from "./router.ts";
import { tunnel } from "./upgrade.ts";
import { welcomeResponse } from "./welcome.ts";

/** What the pipeline reads from the live configuration. */
export interface Snapshot {
  readonly config: Config;
  readonly routers: ReadonlyMap<string, Router>;
  readonly services: ReadonlyMap<string, ServiceRuntime>;
  /** The bound port of an entrypoint (differs from the config when it said 0). */
  readonly port: (entrypoint: string) => number | undefined;
}

/** Facts about one finished request, for the access log and metrics. */
export type Outcome = AccessRecord;

/** A built-in service ("name@internal") answered inside Gatehouse. */
export type InternalService = (req: IncomingRequest) => Promise<OutgoingResponse>;

export interface PipelineDeps {
  readonly snapshot: () => Snapshot;
  /** Called once per request when its response is complete (or failed). */
  readonly onComplete?: (outcome: Outcome) => void;
  /** Built-in services other than the welcome page (e.g. "metrics@internal"). */
  readonly internal?: ReadonlyMap<string, InternalService>;
  /** The key authorization for an HTTP-01 token Gatehouse's ACME client is proving, or null. */
  readonly acmeChallenge?: (token: string) => string | null;
}

const ACME_CHALLENGE = "/.well-known/acme-challenge/";

/** The pipeline for requests accepted on `entrypoint`. */
export function createHandler(entrypoint: string, deps: PipelineDeps): Handler {
  return async (req) => {
    const started = performance.now();
    const snap = deps.snapshot();
    const fwdCfg = snap.config.forwarding;
    const id = requestId(req.headers, fwdCfg.requestIdHeader);
    const ctx = new RequestLog(req, entrypoint, id, started, deps.onComplete);

    // 0. request checks
    const checked = checkRequest(req, fwdCfg.headerUnderscores);
    if (checked instanceof Rejection) {
      req.body?.cancel();
      return ctx.reject(checked);
    }
    ctx.checked(checked);
    const { authority, target: reqTarget } = checked;
    const ep = snap.config.entrypoints[entrypoint];
    const router = snap.routers.get(entrypoint);
    if (ep === undefined || router === undefined) {
      return ctx.finish(proxyResponse(421), "entrypoint removed");
    }

    // 0. ACME HTTP-01 challenge
    if (deps.acmeChallenge !== undefined && reqTarget.startsWith(ACME_CHALLENGE)) {
      const answer = deps.acmeChallenge(reqTarget.slice(ACME_CHALLENGE.length));
      if (answer !== null) return ctx.finish(proxyResponse(200, answer), null);
    }

    // 1. entrypoint policy
    if (ep.redirect !== null) {
      return ctx.finish(redirect(authority, reqTarget, snap, ep.redirect), null);
    }

    // 2. route ("OPTIONS *" is about the whole server: it takes the route of "/")
    const q = reqTarget.indexOf("?");
    const rawPath = q < 0 ? reqTarget : reqTarget.slice(0, q);
    const path = rawPath === "*" ? "/" : normalizePath(rawPath);
    const route = router.match(hostOf(authority), path, req.method, req.headers);
    if (route === null) {
      const nf = snap.config.notFound;
      return ctx.finish(proxyResponse(nf.status, nf.body), "no route");
    }
    ctx.route = route.name;

    // 3. request limits
    const limit = route.maxBodyBytes;
    if (limit !== null && req.body !== null && req.body.length > limit) {
      req.body.cancel();
      return ctx.finish(proxyResponse(413), "body over max_body");
    }
    if (route.service === "welcome@internal") {
      return ctx.finish(welcomeResponse(snap.config), null);
    }
    const internal = deps.internal?.get(route.service);
    if (internal !== undefined) {
      req.body?.cancel();
      return ctx.finish(await internal(req), null);
    }
    const service = snap.services.get(route.service)!;
    ctx.service = service.name;

    // 4. upstream request
    const headers = req.headers;
    const coding = codingFacts(req);
    const upgradeTo = upgradeProtocol(req, route);
    stripHopByHop(headers, upgradeTo);
    const proto = req.client.tls ? "https" : "http";
    applyForwarding(headers, {
      client: req.client,
      trusted: inCidrs(req.client.address, fwdCfg.trustedProxies),
      proto,
      host: authority,
      via: (req.httpVersion === "2" ? "2 " : req.httpVersion + " ") + fwdCfg.via,
    });
    applyHeaderOps(headers, route.requestHeaders);
    let target = reqTarget;
    if (route.stripPrefix && rawPath !== "*") {
      const rest = path.slice(route.match.pathPrefix.length);
      target = (rest.startsWith("/") ? rest : "/" + rest) + (q < 0 ? "" : reqTarget.slice(q));
    }
    const body = req.body === null ? null : ctx.countIn(limitBody(req.body, limit));
    const fwd: ForwardRequest = { method: req.method, target, authority, headers, body };
    const maxHeaderBytes = snap.config.limits.maxHeaderBytes;

    /** Phase 6 for any upstream answer: Via, request id, the route's header operations. */
    const responseHeaders = (headers: HeaderList, version: string) => {
      const via = headers.getJoined("via");
      const viaValue = version + " " + fwdCfg.via;
      headers.set("via", via === null ? viaValue : via + ", " + viaValue);
      if (!headers.has(fwdCfg.requestIdHeader)) headers.appendLower(fwdCfg.requestIdHeader, id);
      applyHeaderOps(headers, route.responseHeaders);
    };

    // 5. forward, or upgrade (a tunnel's 101 or refusal gets phase 6 through `responseHeaders`)
    if (upgradeTo !== null) {
      const result = await tunnel(req, fwd, { route, service, maxHeaderBytes, responseHeaders });
      ctx.upstream = result.server;
      ctx.attempts = result.attempts;
      if (result.response === TAKEN_OVER) {
        ctx.complete(101, result.bytesUp, result.bytesDown, null);
        return TAKEN_OVER;
      }
      return ctx.finish(result.response, result.error);
    }
    const result = await forward(req, fwd, { route, service, maxHeaderBytes });
    ctx.attempts = result.attempts;
    ctx.upstream = result.server?.url ?? null;
    if (!result.ok) {
      const drain = result.failure === "drain";
      const res = proxyResponse(result.status, drain ? DRAIN_CUT_TEXT : undefined);
      if (result.failure === "unavailable") {
        res.headers.appendLower("retry-after", String(result.retryAfter));
      }
      if (result.reason !== null) ctx.reason = result.reason;
      return ctx.finish(res, result.message);
    }

    // 6. response headers
    const up = result.response;
    const resHeaders = up.headers;
    stripHopByHop(resHeaders);
    responseHeaders(resHeaders, up.version);
    const upstreamRes: OutgoingResponse = {
      status: up.status,
      reason: up.reason,
      headers: resHeaders,
      body: up.body,
    };

    // 7. compression
    const res = compressResponse(coding, upstreamRes, route.compression);

    // 8. log once the body is done (the server's in-flight count ends there too)
    return ctx.finish(res, null, () => result.lease.release());
  };
}

/** The Upgrade protocol to tunnel, or null when this request is not (or may not be) a tunnel. */
function upgradeProtocol(req: IncomingRequest, route: Route): string | null {
  if (!route.upgrade || req.takeover === null || req.body !== null) return null;
  const upgrade = req.headers.get("upgrade");
  if (upgrade === null || !listHasToken(req.headers.getJoined("connection"), "upgrade")) {
    return null;
  }
  return upgrade;
}

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

/** Enforces max_body on bodies of unknown length while they stream. */
function limitBody(body: BodyReader, limit: number | null): BodyReader {
  if (limit === null || body.length >= 0) return body;
  let total = 0;
  return tapBody(body, {
    chunk(chunk) {
      if ((total += chunk.length) <= limit) return;
      const err = new RequestError(413, "request body over max_body");
      body.cancel(err);
      throw err;
    },
  });
}
