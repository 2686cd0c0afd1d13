/**
 * Forwarding one request to a service: pick a server, exchange, retry another server when that
 * is safe, and turn failures into 502/503/504. Upstream state is updated here (in-flight count,
 * passive failures); which server to pick is the service's policy.
 */
import type { Route } from "../config/types.ts";
import type { ServiceRuntime } from "../upstream/service.ts";
import { serverAuthority, type UpstreamServer } from "../upstream/server_state.ts";
import {
  exchange,
  type Lease,
  type UpstreamFailure,
  type UpstreamResponse,
} from "../proto/h1/client.ts";
import { UpstreamError } from "../proto/h1/client.ts";
import type { HeaderList } from "../proto/header_list.ts";
import { type BodyReader, DEADLINE_CUT, type IncomingRequest } from "../proto/message.ts";
import { tapBody } from "../proto/body_tap.ts";

/** Methods a retry cannot make worse (RFC 9110 9.2.2). */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);
/** Response heads from upstreams may be larger than what clients may send us. */
const MIN_UPSTREAM_HEAD = 64 * 1024;

export interface ForwardRequest {
  readonly method: string;
  readonly target: string;
  readonly headers: HeaderList;
  readonly body: BodyReader | null;
}

export type ForwardResult =
  | {
    readonly ok: true;
    readonly response: UpstreamResponse;
    readonly server: UpstreamServer;
    readonly lease: Lease;
    readonly attempts: number;
  }
  | {
    readonly ok: false;
    /**
     * 502, 503 or 504; 499 when the client went away; 503 also when the drain deadline ended
     * the request; the client's own error (413, 400) when its request body failed while sent.
     */
    readonly status: number;
    readonly message: string;
    /** "drain": Gatehouse ended the request itself, at the drain deadline. */
    readonly failure: UpstreamFailure | "unavailable" | "client" | "drain";
    readonly server: UpstreamServer | null;
    readonly attempts: number;
    /** Seconds for Retry-After (failure "unavailable" only). */
    readonly retryAfter: number;
  };

export interface ForwardOptions {
  readonly route: Route;
  readonly service: ServiceRuntime;
  readonly maxHeaderBytes: number;
  /** Send the chosen server's authority as Host (service `host: upstream`). */
  readonly upstreamHost: boolean;
}

export async function forward(
  req: IncomingRequest,
  fwd: ForwardRequest,
  opts: ForwardOptions,
): Promise<ForwardResult> {
  const { service } = opts;
  const tried = new Set<UpstreamServer>();
  const body = fwd.body === null ? null : startTracking(fwd.body);
  const request = { ...fwd, body };
  const maxAttempts = 1 + service.config.retries;
  let last: { failure: UpstreamFailure; message: string; server: UpstreamServer } | null = null;
  let attempts = 0;
  while (attempts < maxAttempts) {
    const server = service.pick({ clientIp: req.client.address, tried, now: Date.now() });
    if (server === null) break;
    tried.add(server);
    attempts++;
    let outcome = await attempt(req, request, server, opts, false);
    if (outcome.kind === "failed" && outcome.reused && isStale(outcome.error, request)) {
      outcome = await attempt(req, request, server, opts, true);
    }
    if (outcome.kind === "ok") {
      server.recordSuccess();
      return { ok: true, response: outcome.response, server, lease: outcome.lease, attempts };
    }
    if (body?.failure) return clientFailed(body.failure, server, attempts);
    if (req.signal.aborted) {
      const message = "the drain deadline passed before the upstream answered";
      return req.signal.reason === DEADLINE_CUT
        ? failed(503, message, "drain", server, attempts)
        : failed(499, "client went away", "aborted", server, attempts);
    }
    const e = outcome.error;
    if (e.kind === "connect" || e.kind === "reset" || e.kind === "timeout") {
      server.recordFailure(service.config.passiveHealth, Date.now());
    }
    last = { failure: e.kind, message: e.message, server };
    const safe = (body === null || !body.started) &&
      (!e.requestSent || (e.kind === "reset" && IDEMPOTENT.has(fwd.method)));
    if (!safe) break;
  }
  if (last === null) {
    return {
      ok: false,
      status: 503,
      message: `no available server in service "${service.name}"`,
      failure: "unavailable",
      server: null,
      attempts,
      retryAfter: service.retryAfterSeconds(Date.now()),
    };
  }
  const status = last.failure === "timeout" ? 504 : 502;
  return failed(status, last.message, last.failure, last.server, attempts);
}

type Attempt =
  | { readonly kind: "ok"; readonly response: UpstreamResponse; readonly lease: Lease }
  /** `reused`: the exchange ran on a keep-alive connection that served earlier requests. */
  | { readonly kind: "failed"; readonly error: UpstreamError; readonly reused: boolean };

/** One exchange with `server` (a new connection when `fresh`); keeps its in-flight count. */
async function attempt(
  req: IncomingRequest,
  request: ForwardRequest & { body: TrackedBody | null },
  server: UpstreamServer,
  opts: ForwardOptions,
  fresh: boolean,
): Promise<Attempt> {
  server.inflight++;
  let lease: Lease;
  try {
    lease = await server.pool.acquire(req.signal, fresh);
  } catch (err) {
    server.inflight--;
    const error = new UpstreamError("connect", false, connectMessage(err));
    return { kind: "failed", error, reused: false };
  }
  if (opts.upstreamHost) request.headers.set("host", serverAuthority(server.ref));
  try {
    const response = await exchange(lease, request, {
      responseHeaderMs: opts.route.timeouts.responseHeader,
      bodyIdleMs: opts.route.timeouts.bodyIdle,
      maxHeaderBytes: Math.max(opts.maxHeaderBytes, MIN_UPSTREAM_HEAD),
      signal: req.signal,
    });
    return { kind: "ok", response, lease };
  } catch (err) {
    server.inflight--;
    const e = err instanceof UpstreamError ? err : new UpstreamError("reset", true, String(err));
    return { kind: "failed", error: e, reused: lease.reused };
  }
}

/**
 * Safe to send again on a new connection to the same server: the reused connection failed before
 * any response byte, no request body byte was consumed, and the request either never went out
 * or is idempotent (or carries an Idempotency-Key). This is the race of a keep-alive timeout
 * firing on the upstream just as the request is written; it is not the server's failure.
 */
function isStale(e: UpstreamError, request: ForwardRequest & { body: TrackedBody | null }) {
  if (e.kind !== "reset" || !e.beforeResponse) return false;
  if (request.body !== null && request.body.started) return false;
  return !e.requestSent || IDEMPOTENT.has(request.method) ||
    request.headers.has("idempotency-key");
}

function failed(
  status: number,
  message: string,
  failure: UpstreamFailure | "client" | "drain",
  server: UpstreamServer,
  attempts: number,
): ForwardResult {
  return { ok: false, status, message, failure, server, attempts, retryAfter: 0 };
}

/** The client's body broke the exchange (too large, malformed, cut off): not the server's fault. */
function clientFailed(err: Error, server: UpstreamServer, attempts: number): ForwardResult {
  const status = (err as { status?: number }).status ?? 499;
  return failed(status, `request body failed: ${err.message}`, "client", server, attempts);
}

function connectMessage(err: unknown): string {
  if (err instanceof DOMException && err.name === "TimeoutError") return "connect timed out";
  return `connect failed: ${err instanceof Error ? err.message : String(err)}`;
}

/**
 * Remembers whether any of the body was read (then it cannot be sent again), and why reading it
 * failed (then the exchange failed because of the client).
 */
function startTracking(body: BodyReader): TrackedBody {
  const tracked = tapBody(body, {
    begin: () => tracked.started = true,
    error: (err) => tracked.failure ??= err instanceof Error ? err : new Error(String(err)),
  }) as TrackedBody;
  tracked.started = false;
  tracked.failure = null;
  return tracked;
}

interface TrackedBody extends BodyReader {
  started: boolean;
  failure: Error | null;
}
