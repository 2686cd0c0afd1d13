import assert from "node:assert/strict";
import {
  encodeGrpcMessage,
  grpcErrorResponse,
  GrpcStatus,
  grpcStatusFor,
  grpcTimeoutMs,
  isGrpc,
} from "./grpc.ts";

Deno.test("gRPC calls are told by their content-type", () => {
  for (const t of ["application/grpc", "application/grpc+proto", "Application/GRPC;x=1"]) {
    assert.equal(isGrpc(t), true, t);
  }
  for (const t of [null, "application/grpc-web", "application/grpcx", "text/plain"]) {
    assert.equal(isGrpc(t), false, String(t));
  }
});

Deno.test("Gatehouse's own HTTP statuses map to gRPC statuses", () => {
  assert.deepEqual([502, 503, 504, 400, 413, 429, 404, 500, 418].map(grpcStatusFor), [
    GrpcStatus.UNAVAILABLE,
    GrpcStatus.UNAVAILABLE,
    GrpcStatus.DEADLINE_EXCEEDED,
    GrpcStatus.INVALID_ARGUMENT,
    GrpcStatus.RESOURCE_EXHAUSTED,
    GrpcStatus.RESOURCE_EXHAUSTED,
    GrpcStatus.UNIMPLEMENTED,
    GrpcStatus.INTERNAL,
    GrpcStatus.UNKNOWN,
  ]);
});

Deno.test("a trailers-only response carries the status and a percent-encoded message", () => {
  const res = grpcErrorResponse("application/grpc", 14, "no server: 100% down, café");
  assert.equal(res.status, 200);
  assert.equal(res.body, null);
  assert.deepEqual(res.headers.entries(), [
    ["content-type", "application/grpc"],
    ["grpc-status", "14"],
    ["grpc-message", "no server: 100%25 down, caf%C3%A9"],
  ]);
  assert.equal(encodeGrpcMessage("a\nb"), "a%0Ab");
});

Deno.test("grpc-timeout: units, bounds and malformed values", () => {
  assert.deepEqual(
    ["1H", "2M", "3S", "250m", "1500u", "10n", "123456789S", "5", "1s", "-1S", null].map(
      grpcTimeoutMs,
    ),
    [3_600_000, 120_000, 3000, 250, 2, 1, null, null, null, null, null],
  );
});
