/**
 * The one error funnel: every way a request can fail ends here, thrown from any phase. It maps
 * the failure to the status the client gets (by its source: the client, the upstream, Gatehouse's
 * own shutdown, or a bug in Gatehouse), records it for the access log line and the metrics, and
 * logs an unexpected failure with its stack. Nothing else turns an error into a response.
 *
 * A gRPC call gets its failure as a trailers-only gRPC response (HTTP 200, grpc-status mapped
 * from the HTTP status, grpc-message the same words an HTTP client reads), which gRPC clients
 * report as that status instead of a transport error.
 *
 * Tested by pipeline_test.ts and grpc_test.ts.
 */
import { grpcErrorResponse, grpcStatusFor, isGrpc } from "../proto/grpc.ts";
import { proxyResponse } from "../proto/responses.ts";
import type { OutgoingResponse } from "../proto/message.ts";
import { Rejection, type RejectReason } from "../proto/rejection.ts";
import type { FailureSource } from "../telemetry/records.ts";
import { log } from "../telemetry/log.ts";
import type { RequestContext } from "./context.ts";

const logger = log("pipeline");

/** An expected way for a request to fail, with what the client is told. */
export class ProxyFailure extends Error {
  readonly status: number;
  readonly source: FailureSource;
  /** A refusal reason (bounded, for the metric label), when the client's request was at fault. */
  readonly reason: RejectReason | null;
  /** The plain-text answer; the standard one for the status when absent. */
  readonly text: string | undefined;
  /** Seconds for Retry-After, or 0. */
  readonly retryAfter: number;
  /** The middleware that refused the request, with its bounded reason. */
  readonly middleware: MiddlewareRefusal | null;
  /** More response fields (lowercase names): WWW-Authenticate, RateLimit... */
  readonly headers: readonly (readonly [string, string])[];

  constructor(
    status: number,
    source: FailureSource,
    message: string,
    options: {
      reason?: RejectReason | null;
      text?: string;
      retryAfter?: number;
      middleware?: MiddlewareRefusal;
      headers?: readonly (readonly [string, string])[];
    } = {},
  ) {
    super(message);
    this.status = status;
    this.source = source;
    this.reason = options.reason ?? null;
    this.text = options.text;
    this.retryAfter = options.retryAfter ?? 0;
    this.middleware = options.middleware ?? null;
    this.headers = options.headers ?? [];
  }
}

/** Which middleware refused a request, and why (a bounded word, for the metric label). */
export interface MiddlewareRefusal {
  readonly name: string;
  readonly reason: string;
}

/** The response for `err`, with the failure noted on the request's log record. */
export function funnel(ctx: RequestContext, err: unknown): OutgoingResponse {
  ctx.req.body?.cancel(err);
  const res = answer(ctx, err);
  const type = ctx.req.headers.get("content-type");
  if (!isGrpc(type)) return res;
  const text = res.body instanceof Uint8Array ? new TextDecoder().decode(res.body).trim() : "";
  return grpcErrorResponse(type!, grpcStatusFor(res.status), text);
}

function answer(ctx: RequestContext, err: unknown): OutgoingResponse {
  if (err instanceof Rejection) {
    ctx.log.fail("client", err.message, err.reason);
    return err.response();
  }
  if (err instanceof ProxyFailure) {
    ctx.log.fail(err.source, err.message, err.reason);
    if (err.middleware !== null) ctx.log.answeredBy(err.middleware.name, err.middleware.reason);
    const res = proxyResponse(err.status, err.text);
    if (err.retryAfter > 0) res.headers.appendLower("retry-after", String(err.retryAfter));
    for (const [name, value] of err.headers) res.headers.appendLower(name, value);
    return res;
  }
  const message = err instanceof Error ? err.message : String(err);
  logger.error("Request {requestId} on {entrypoint} failed inside Gatehouse: {stack}", {
    requestId: ctx.log.requestId,
    entrypoint: ctx.entrypoint,
    stack: err instanceof Error ? err.stack ?? message : message,
  });
  ctx.log.fail("gatehouse", `internal error: ${message}`, null);
  return proxyResponse(500);
}
