/**
 * The access log record of each request: collected while the request moves through the
 * pipeline (RequestLog), or built at once for a request the HTTP/1.1 engine refused before the
 * pipeline saw it (createRejectionLog). Either way one line is logged and `onComplete` (metrics)
 * hears of it.
 *
 * Tested by rejection_test.ts, pipeline_test.ts and head_test.ts.
 */
import { logAccess } from "../telemetry/log.ts";
import type { AccessRecord, FailureSource } from "../telemetry/records.ts";
import { tapBody } from "../proto/body_tap.ts";
import type { RequestHead } from "../proto/h1/parse.ts";
import {
  type BodyReader,
  type ClientInfo,
  type IncomingRequest,
  isBodyless,
  type OutgoingResponse,
} from "../proto/message.ts";
import { type Rejection, rejectionText, type RejectReason } from "../proto/rejection.ts";
import type { CheckedRequest } from "./request_checks.ts";

/** Collects what the access log needs while a request moves through the pipeline. */
export class RequestLog {
  route: string | null = null;
  service: string | null = null;
  upstream: string | null = null;
  readonly requestId: string;
  attempts = 0;
  /** Why Gatehouse refused the request, when it did. */
  reason: RejectReason | null = null;
  /** What went wrong, for the log line's `error`; null when nothing did. */
  error: string | null = null;
  /** Whose failure it was (see FailureSource), when the request failed. */
  source: FailureSource | null = null;
  /** The user a basic_auth middleware let in. */
  user: string | null = null;
  /** The target the upstream gets, when it differs from the client's (see AccessRecord). */
  upstreamTarget: string | null = null;
  /** The middleware that refused or answered the request, and why it refused it. */
  middleware: string | null = null;
  middlewareReason: string | null = null;
  #host: string;
  #target: string;
  #droppedHeaders = 0;
  #bytesIn = 0;
  #grpcStatus: string | null = null;
  #kind: AccessRecord["kind"];
  readonly #req: IncomingRequest;
  readonly #entrypoint: string;
  readonly #started: number;
  readonly #onComplete?: (outcome: AccessRecord) => void;

  constructor(
    req: IncomingRequest,
    entrypoint: string,
    requestId: string,
    started: number,
    onComplete?: (o: AccessRecord) => void,
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

  /** Notes how the request failed (the error funnel calls this). */
  fail(source: FailureSource, error: string, reason: RejectReason | null): void {
    this.source = source;
    this.error = error;
    this.reason = reason;
  }

  /** A middleware refused the request (`reason` set) or answered it itself (`reason` null). */
  answeredBy(middleware: string, reason: string | null): void {
    this.middleware = middleware;
    this.middlewareReason = reason;
  }

  /** Counts request body bytes as they pass. */
  countIn(body: BodyReader): BodyReader {
    return tapBody(body, { chunk: (chunk) => this.#bytesIn += chunk.length });
  }

  /** Returns `res` with its body wrapped so that the log line is written when it ends. */
  finish(res: OutgoingResponse, onEnd?: () => void): OutgoingResponse {
    const error = this.error;
    const type = res.headers.get("content-type");
    if (type !== null && type.startsWith("text/event-stream")) this.#kind = "sse";
    const body = res.body;
    if (this.#kind === "grpc") this.#grpcStatus = res.headers.get("grpc-status");
    if (body === null || body instanceof Uint8Array) {
      onEnd?.();
      const sent = isBodyless(this.#req.method, res.status) ? 0 : body?.length ?? 0;
      this.complete(res.status, this.#bytesIn, sent, error);
      return res;
    }
    let sent = 0;
    let done = false;
    const end = (failure: string | null, source: FailureSource | null) => {
      if (done) return;
      done = true;
      onEnd?.();
      this.source ??= source;
      this.complete(res.status, this.#bytesIn, sent, failure ?? error);
    };
    const wrapped = tapBody(body, {
      chunk: (chunk) => sent += chunk.length,
      end: () => this.#afterGrpcStatus(res, () => end(null, null)),
      error: (err) => end(`response body failed: ${(err as Error).message}`, "upstream"),
      cancel: () => end("response body not delivered", "client"),
    });
    return { ...res, body: wrapped };
  }

  /**
   * Runs `then` once a gRPC call's status is known: from the response head (trailers-only), or
   * from its trailers, which are asked for here (they are read once, whoever asks first).
   */
  #afterGrpcStatus(res: OutgoingResponse, then: () => void): void {
    if (this.#kind !== "grpc" || this.#grpcStatus !== null || !res.trailers) return then();
    res.trailers().then(
      (list) => this.#grpcStatus = list?.get("grpc-status") ?? null,
      () => {},
    ).finally(then);
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
      source: this.source,
      reason: this.reason,
      droppedHeaders: this.#droppedHeaders,
      grpcStatus: this.#grpcStatus,
      user: this.user,
      upstreamTarget: this.upstreamTarget,
      middleware: this.middleware,
      middlewareReason: this.middlewareReason,
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
  onComplete?: (outcome: AccessRecord) => void,
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
      source: "client",
      reason: rejection.reason,
      droppedHeaders: 0,
      grpcStatus: null,
      user: null,
      upstreamTarget: null,
      middleware: null,
      middlewareReason: null,
    };
    logAccess(record);
    onComplete?.(record);
  };
}
