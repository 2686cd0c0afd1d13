/**
 * Forwarding one request to a service: the service's servers are tried by the one attempt loop
 * (upstream/attempts.ts) through their HTTP transports, and failures become 502/503/504. This
 * file decides what is safe to retry for HTTP and which failure is whose.
 *
 * A gRPC call's `grpc-timeout` is a deadline on the whole upstream exchange: when it passes the
 * exchange is cancelled (on HTTP/2 an RST_STREAM CANCEL the server sees), nothing is retried, and
 * a call still waiting for its answer fails as a timeout (504, DEADLINE_EXCEEDED to the client).
 */
import type { Route } from "../config/types.ts";
import { attemptServers, type RetryOn, type RetryPolicy } from "../upstream/attempts.ts";
import type { InflightLease } from "../upstream/inflight.ts";
import type { ServiceRuntime } from "../upstream/service.ts";
import type { UpstreamServer } from "../upstream/server_state.ts";
import { HttpParseError } from "../proto/h1/parse.ts";
import { RequestError } from "../proto/rejection.ts";
import { upstreamHost } from "./authority.ts";
import type { RejectReason } from "../proto/rejection.ts";
import {
  IDEMPOTENT,
  UpstreamError,
  type UpstreamFailure,
  type UpstreamResponse,
} from "../proto/exchange.ts";
import type { HeaderList } from "../proto/header_list.ts";
import {
  type BodyReader,
  DEADLINE_CUT,
  type IncomingRequest,
  type TrailerSource,
} from "../proto/message.ts";
import { tapBody } from "../proto/body_tap.ts";
import { grpcTimeoutMs, isGrpc } from "../proto/grpc.ts";
import { monotonicNow } from "../clock.ts";

/** Response heads from upstreams may be larger than what clients may send us. */
const MIN_UPSTREAM_HEAD = 64 * 1024;

export interface ForwardRequest {
  readonly method: string;
  readonly target: string;
  /** The request's authority ("" when it had none); the service's `host` turns it into Host. */
  readonly authority: string;
  readonly headers: HeaderList;
  readonly body: BodyReader | null;
  /** The request's trailers (sent after the body where the upstream protocol allows). */
  readonly trailers: TrailerSource | null;
}

export type ForwardResult =
  | {
    readonly ok: true;
    readonly response: UpstreamResponse;
    readonly server: UpstreamServer;
    /** The request's in-flight count on `server`: release it when the response is over. */
    readonly lease: InflightLease;
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
    /** Set when the client's body was malformed (failure "client"): a refusal to count. */
    readonly reason: RejectReason | null;
    readonly server: UpstreamServer | null;
    readonly attempts: number;
    /** Seconds for Retry-After (failure "unavailable" only). */
    readonly retryAfter: number;
  };

export interface ForwardOptions {
  readonly route: Route;
  readonly service: ServiceRuntime;
  readonly maxHeaderBytes: number;
  /** The route's retry policy (the `retry` middleware), or null for the service's retries. */
  readonly retry?: RetryPolicy | null;
}

export async function forward(
  req: IncomingRequest,
  fwd: ForwardRequest,
  opts: ForwardOptions,
): Promise<ForwardResult> {
  const { service, route } = opts;
  const body = fwd.body === null ? null : startTracking(fwd.body);
  const request = { ...fwd, body };
  const deadline = callDeadline(fwd.headers);
  const exchangeOptions = {
    responseHeaderMs: route.timeouts.responseHeader,
    bodyIdleMs: route.timeouts.bodyIdle,
    maxHeaderBytes: Math.max(opts.maxHeaderBytes, MIN_UPSTREAM_HEAD),
    signal: deadline === null ? req.signal : AbortSignal.any([req.signal, deadline]),
    replayable: () => body === null || !body.started,
  };
  const retry = opts.retry ?? null;
  const result = await attemptServers(service, {
    clientIp: req.client.address,
    signal: req.signal,
    retry,
  }, {
    run(server) {
      const host = upstreamHost(service.config.host, request.authority, server.ref);
      return service.http(server).exchange({ ...request, host }, exchangeOptions);
    },
    judge(err) {
      if (deadline?.aborted && !req.signal.aborted) {
        const e = new UpstreamError("timeout", true, "the call's grpc-timeout passed");
        return { error: e, serverFault: false, retry: false };
      }
      const e = err instanceof UpstreamError ? err : new UpstreamError("reset", true, String(err));
      // The exchange's body-idle deadline passed while the body waited on the client: the
      // client's body stopped arriving, not the server's answer.
      if (e.kind === "timeout" && body?.waiting) {
        body.failure ??= new RequestError(408, "no byte for the route's body_idle", "body_timeout");
      }
      const clientsFault = body?.failure != null || req.signal.aborted;
      if (e.local) return { error: e, serverFault: false, retry: false };
      const serverFault = !clientsFault &&
        (e.kind === "connect" || e.kind === "reset" || e.kind === "timeout");
      // Safe to send again: nothing of the body went, and the request never reached the server
      // or repeating it cannot do harm (an idempotent method, after a reset; a policy may add
      // timeouts). A policy also chooses which kinds of failure it retries at all.
      const safe = !clientsFault && (body === null || !body.started);
      const again = retry === null
        ? safe && (!e.requestSent || (e.kind === "reset" && IDEMPOTENT.has(fwd.method)))
        : safe && retry.on.has(e.kind as RetryOn) &&
          (!e.requestSent || (e.kind !== "connect" && IDEMPOTENT.has(fwd.method)));
      return { error: e, serverFault, retry: again };
    },
  });
  if (result.ok) {
    const { value: response, server, lease, attempts } = result;
    return { ok: true, response, server, lease, attempts };
  }
  const { server, attempts } = result;
  if (body?.failure) return clientFailed(body.failure, server, attempts);
  if (req.signal.aborted) {
    const message = "the drain deadline passed before the upstream answered";
    return req.signal.reason === DEADLINE_CUT
      ? failed(503, message, "drain", server, attempts)
      : failed(499, "client went away", "aborted", server, attempts);
  }
  if (result.error === null) {
    return {
      ok: false,
      status: 503,
      message: `no available server in service "${service.name}"`,
      failure: "unavailable",
      reason: null,
      server: null,
      attempts,
      retryAfter: service.retryAfterSeconds(monotonicNow()),
    };
  }
  const e = result.error;
  // Gatehouse's own failure (out of descriptors): try again later, as a 503 says.
  if (e.local) return failed(503, e.message, e.kind, server, attempts);
  return failed(e.kind === "timeout" ? 504 : 502, e.message, e.kind, server, attempts);
}

/** The deadline a gRPC call's `grpc-timeout` sets, or null. */
function callDeadline(headers: HeaderList): AbortSignal | null {
  if (!isGrpc(headers.get("content-type"))) return null;
  const ms = grpcTimeoutMs(headers.get("grpc-timeout"));
  return ms === null ? null : AbortSignal.timeout(ms);
}

function failed(
  status: number,
  message: string,
  failure: UpstreamFailure | "client" | "drain",
  server: UpstreamServer | null,
  attempts: number,
  reason: RejectReason | null = null,
): ForwardResult {
  return { ok: false, status, message, failure, reason, server, attempts, retryAfter: 0 };
}

/** The client's body broke the exchange (too large, malformed, cut off): not the server's fault. */
function clientFailed(
  err: Error,
  server: UpstreamServer | null,
  attempts: number,
): ForwardResult {
  const status = (err as { status?: number }).status ?? 499;
  const reason = err instanceof HttpParseError || err instanceof RequestError ? err.reason : null;
  return failed(status, `request body failed: ${err.message}`, "client", server, attempts, reason);
}

/**
 * Remembers whether any of the body was read (then it cannot be sent again), whether a read
 * waits on the client now, and why reading it failed (then the exchange failed because of the
 * client).
 */
function startTracking(body: BodyReader): TrackedBody {
  const tracked = tapBody(body, {
    begin: () => tracked.started = true,
    wait: () => tracked.waiting = true,
    chunk: () => tracked.waiting = false,
    end: () => tracked.waiting = false,
    error: (err) => {
      tracked.waiting = false;
      tracked.failure ??= err instanceof Error ? err : new Error(String(err));
    },
  }) as TrackedBody;
  tracked.started = false;
  tracked.waiting = false;
  tracked.failure = null;
  return tracked;
}

interface TrackedBody extends BodyReader {
  started: boolean;
  waiting: boolean;
  failure: Error | null;
}
