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
import { type AccessRecord, logAccess } from "../telemetry/log.ts";
import type { ServiceRuntime } from "../upstream/service.ts";
import { codingFacts, compressResponse } from "./compress/stage.ts";
import { tapBody } from "./body_tap.ts";
import { DRAIN_CUT_TEXT, proxyResponse, RequestError } from "./errors.ts";
import { forward, type ForwardRequest } from "./forward.ts";
import { type HeaderList, listHasToken } from "./header_list.ts";
import { applyForwarding, applyHeaderOps, isTrusted, requestId, stripHopByHop } from "./headers.ts";
import {
  type BodyReader,
  type ClientInfo,
  type Handler,
  type IncomingRequest,
  type OutgoingResponse,
  TAKEN_OVER,
} from "./message.ts";
import type { RequestHead } from "./h1/parse.ts";
import { type CheckedRequest, checkRequest } from "./request_checks.ts";
import { Rejection, rejectionText, type RejectReason } from "./rejection.ts";
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
      return ctx.finish(welcomeResponse(snap.config.source), null);
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
      trusted: isTrusted(req.client.address, fwdCfg.trustedProxies),
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
    const server = result.server;
    const upstreamRes: OutgoingResponse = {
      status: up.status,
      reason: up.reason,
      headers: resHeaders,
      body: up.body,
    };

    // 7. compression
    const res = compressResponse(coding, upstreamRes, route.compression);

    // 8. log once the body is done (the server's in-flight count ends there too)
    return ctx.finish(res, null, () => server.inflight--);
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

/** Collects what the access log needs while a request moves through the pipeline. */
class RequestLog {
  route: string | null = null;
  service: string | null = null;
  upstream: string | null = null;
  readonly requestId: string;
  attempts = 0;
  /** Why Gatehouse refused the request, when it did. */
  reason: RejectReason | null = null;
  #host: string;
  #target: string;
  #droppedHeaders = 0;
  #bytesIn = 0;
  #kind: AccessRecord["kind"];
  readonly #req: IncomingRequest;
  readonly #entrypoint: string;
  readonly #started: number;
  readonly #onComplete?: (outcome: Outcome) => void;

  constructor(
    req: IncomingRequest,
    entrypoint: string,
    requestId: string,
    started: number,
    onComplete?: (o: Outcome) => void,
  ) {
    this.#req = req;
    this.#entrypoint = entrypoint;
    this.requestId = requestId;
    this.#started = started;
    this.#onComplete = onComplete;
    this.#host = req.authority ?? req.headers.get("host") ?? "";
    this.#target = req.target;
    const type = req.headers.get("content-type");
    this.#kind = type !== null && type.startsWith("application/grpc") ? "grpc" : "http";
  }

  /** The request passed its checks: log the authority and target they settled. */
  checked(checked: CheckedRequest): void {
    this.#host = checked.authority;
    this.#target = checked.target;
    this.#droppedHeaders = checked.droppedHeaders;
  }

  /** Answers a refused request. */
  reject(rejection: Rejection): OutgoingResponse {
    this.reason = rejection.reason;
    return this.finish(rejection.response(), rejection.message);
  }

  /** Counts request body bytes as they pass. */
  countIn(body: BodyReader): BodyReader {
    return tapBody(body, { chunk: (chunk) => this.#bytesIn += chunk.length });
  }

  /** Returns `res` with its body wrapped so that the log line is written when it ends. */
  finish(res: OutgoingResponse, error: string | null, onEnd?: () => void): OutgoingResponse {
    const type = res.headers.get("content-type");
    if (type !== null && type.startsWith("text/event-stream")) this.#kind = "sse";
    const body = res.body;
    if (body === null || body instanceof Uint8Array) {
      onEnd?.();
      this.complete(res.status, this.#bytesIn, body?.length ?? 0, error);
      return res;
    }
    let sent = 0;
    let done = false;
    const end = (failure: string | null) => {
      if (done) return;
      done = true;
      onEnd?.();
      this.complete(res.status, this.#bytesIn, sent, failure ?? error);
    };
    const wrapped = tapBody(body, {
      chunk: (chunk) => sent += chunk.length,
      end: () => end(null),
      error: (err) => end(`response body failed: ${(err as Error).message}`),
      cancel: () => end("response body not delivered"),
    });
    return { ...res, body: wrapped };
  }

  complete(status: number, bytesIn: number, bytesOut: number, error: string | null): void {
    const req = this.#req;
    const record: AccessRecord = {
      requestId: this.requestId,
      entrypoint: this.#entrypoint,
      route: this.route,
      service: this.service,
      upstream: this.upstream,
      clientIp: req.client.address,
      method: req.method,
      target: this.#target,
      host: this.#host,
      protocol: req.httpVersion === "2" ? "HTTP/2" : "HTTP/" + req.httpVersion,
      kind: status === 101 ? "websocket" : this.#kind,
      status,
      bytesIn,
      bytesOut,
      durationMs: Math.round((performance.now() - this.#started) * 100) / 100,
      userAgent: req.headers.get("user-agent"),
      referer: req.headers.get("referer"),
      attempts: this.attempts,
      error,
      reason: this.reason,
      droppedHeaders: this.#droppedHeaders,
    };
    logAccess(record);
    this.#onComplete?.(record);
  }
}

/**
 * Logs and counts requests the HTTP/1.1 engine refused before the pipeline saw them (malformed
 * heads, framing errors), like the pipeline's own refusals: one access log line with `reason`.
 */
export function createRejectionLog(
  entrypoint: string,
  onComplete?: (outcome: Outcome) => void,
): (rejection: Rejection, head: RequestHead | null, client: ClientInfo) => void {
  return (rejection, head, client) => {
    const record: AccessRecord = {
      requestId: crypto.randomUUID(),
      entrypoint,
      route: null,
      service: null,
      upstream: null,
      clientIp: client.address,
      method: head?.method ?? "",
      target: head?.target ?? "",
      host: head?.headers.get("host") ?? "",
      protocol: head === null ? "HTTP/1.1" : "HTTP/" + head.version,
      kind: "http",
      status: rejection.status,
      bytesIn: 0,
      bytesOut: rejectionText(rejection.status, rejection.message).length,
      durationMs: 0,
      userAgent: head?.headers.get("user-agent") ?? null,
      referer: head?.headers.get("referer") ?? null,
      attempts: 0,
      error: rejection.message,
      reason: rejection.reason,
      droppedHeaders: 0,
    };
    logAccess(record);
    onComplete?.(record);
  };
}
