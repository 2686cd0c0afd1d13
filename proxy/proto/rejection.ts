/**
 * Requests Gatehouse refuses because of the request itself (malformed, ambiguous, not allowed):
 * a fixed set of reasons, each with its status. The reason goes into the access log line
 * (`reason`) and labels `gatehouse_requests_rejected_total`, so it must stay a bounded enum:
 * details go into the plain-text answer, never into the label.
 *
 * Tested by http/rejection_test.ts.
 */
import { proxyResponse, reasonPhrase } from "./responses.ts";
import type { OutgoingResponse } from "./message.ts";

export const REJECT_REASONS = [
  /** 431: request line and fields larger than limits.max_header. */
  "head_too_large",
  /** 400: request line malformed (method, target characters, spacing), or a lower-case method. */
  "bad_request_line",
  /** 505: an HTTP version other than 1.0 and 1.1. */
  "bad_version",
  /** 400: a CR not followed by LF in a head (or CR-only line ends). */
  "bare_cr",
  /** 400: a malformed field line (name, colon, obs-fold, control characters). */
  "bad_header",
  /** 400: Content-Length not 1*DIGIT, or differing values. */
  "content_length",
  /** 400 or 501: Transfer-Encoding with Content-Length, in HTTP/1.0, or not just "chunked". */
  "transfer_encoding",
  /** 400: chunked body framing malformed (size, extension, line end, trailer). */
  "bad_chunk",
  /** 400: HTTP/1.1 request without Host. */
  "host_missing",
  /** 400: more than one Host field. */
  "host_repeated",
  /** 400: Host or :authority not a valid authority. */
  "host_invalid",
  /** 400: userinfo ("user@") in an absolute-form target. */
  "userinfo",
  /**
   * 400: target not origin-form (nor absolute-form on HTTP/1.1, nor `*` for OPTIONS), with a
   * fragment, a "%" in its path not followed by two hex digits, a "." or ".." segment with ";"
   * parameters, or a raw backslash in its path that the route does not allow.
   */
  "bad_target",
  /** 400: an encoded "/", "\\", ";", "%", "?", "#" or null in the path the route does not allow. */
  "encoded_path",
  /** 405: CONNECT; Gatehouse is not a forward proxy. */
  "connect",
  /** 405: TRACE; an upstream's echo would show the client the fields Gatehouse adds. */
  "trace",
  /** 400: more than one Authorization field. */
  "header_repeated",
  /** 400: a field name with "_" under forwarding.header_underscores: reject. */
  "underscore_header",
  /** 400: X-HTTP-Method-Override or a field like it, under forwarding.method_override: refuse. */
  "method_override",
  /** 408: the request body sent nothing for the route's body_idle while Gatehouse waited on it. */
  "body_timeout",
] as const;

export type RejectReason = typeof REJECT_REASONS[number];

/** The methods of RFC 9110 and PATCH, CONNECT and TRACE excepted: what a 405 says is allowed. */
const ALLOWED_METHODS = "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH";

/**
 * The client's request turned out bad while it streamed (a body over max_body, a body that
 * stopped arriving): answer `status`, counted as a refusal for `reason` when there is one.
 */
export class RequestError extends Error {
  readonly status: number;
  readonly reason: RejectReason | null;
  constructor(status: number, message: string, reason: RejectReason | null = null) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

/** A request refused with `status` for `reason`; `message` says what was wrong. */
export class Rejection {
  readonly status: number;
  readonly reason: RejectReason;
  readonly message: string;
  constructor(status: number, reason: RejectReason, message: string) {
    this.status = status;
    this.reason = reason;
    this.message = message;
  }

  /**
   * The short plain-text answer ("400 Bad Request: <message>"), after which an HTTP/1.1
   * connection closes: what else the client sent on it is not trusted.
   */
  response(): OutgoingResponse {
    const res = proxyResponse(this.status, rejectionText(this.status, this.message));
    // RFC 9110 15.5.6: a 405 lists the methods that are allowed.
    if (this.status === 405) res.headers.appendLower("allow", ALLOWED_METHODS);
    return { ...res, close: true };
  }
}

/** The body of a rejection. */
export function rejectionText(status: number, message: string): string {
  return `${status} ${reasonPhrase(status)}: ${message}\n`;
}
