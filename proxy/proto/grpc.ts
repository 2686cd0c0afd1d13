/**
 * gRPC as Gatehouse sees it (it forwards gRPC, it does not decode messages): which requests are
 * gRPC calls, the `grpc-timeout` deadline they carry, and the trailers-only response that answers
 * a call Gatehouse itself fails (no upstream, timeout, refusal), with the grpc-status the HTTP
 * status maps to (after gRPC's own "HTTP to gRPC status code mapping", with the statuses only a
 * proxy produces made precise: 502/503 are UNAVAILABLE, 504 DEADLINE_EXCEEDED, 413/429/431
 * RESOURCE_EXHAUSTED, 400 INVALID_ARGUMENT).
 *
 * Tested by grpc_test.ts and http/grpc_test.ts.
 *
 * @module
 */
import { HeaderList } from "./header_list.ts";
import type { OutgoingResponse } from "./message.ts";

/** gRPC status codes (grpc/doc/statuscodes.md). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** Whether a request with this content-type is a gRPC call (application/grpc, +proto, ...). */
export function isGrpc(contentType: string | null): boolean {
  if (contentType === null) return false;
  const type = contentType.toLowerCase();
  return type === "application/grpc" || type.startsWith("application/grpc+") ||
    type.startsWith("application/grpc;");
}

/** The grpc-status for an HTTP status Gatehouse answers a gRPC call with. */
export function grpcStatusFor(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return GrpcStatus.INVALID_ARGUMENT;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
    case 501:
      return GrpcStatus.UNIMPLEMENTED;
    case 408:
    case 504:
      return GrpcStatus.DEADLINE_EXCEEDED;
    case 413:
    case 429:
    case 431:
      return GrpcStatus.RESOURCE_EXHAUSTED;
    case 499:
      return GrpcStatus.CANCELLED;
    case 500:
      return GrpcStatus.INTERNAL;
    case 502:
    case 503:
      return GrpcStatus.UNAVAILABLE;
    default:
      return GrpcStatus.UNKNOWN;
  }
}

/**
 * A trailers-only gRPC response: HTTP 200, `content-type: application/grpc` and the status in
 * the head, no body (on HTTP/2 one HEADERS frame with END_STREAM). `message` is percent-encoded
 * as grpc-message requires.
 */
export function grpcErrorResponse(
  contentType: string,
  status: number,
  message: string,
): OutgoingResponse {
  const headers = new HeaderList();
  headers.appendLower("content-type", contentType);
  headers.appendLower("grpc-status", String(status));
  headers.appendLower("grpc-message", encodeGrpcMessage(message));
  return { status: 200, headers, body: null };
}

/** grpc-message's encoding: bytes outside printable ASCII, and "%", as %XX of their UTF-8. */
export function encodeGrpcMessage(message: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(message)) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25
      ? String.fromCharCode(byte)
      : "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/**
 * The `grpc-timeout` of a call in milliseconds (at least 1), or null when absent or malformed
 * (1 to 8 digits and a unit of H, M, S, m, u or n).
 */
export function grpcTimeoutMs(value: string | null): number | null {
  if (value === null) return null;
  const m = /^([0-9]{1,8})([HMSmun])$/.exec(value);
  if (m === null) return null;
  const scale = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 }[m[2]]!;
  return Math.max(1, Math.ceil(Number(m[1]) * scale));
}
