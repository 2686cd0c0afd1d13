/**
 * The gRPC health checking protocol (grpc.health.v1.Health/Check) as an active health check:
 * one unary call with a HealthCheckRequest naming the service, healthy when the call ends with
 * grpc-status 0 and the HealthCheckResponse says SERVING. The two protobuf messages are small
 * enough to encode and read by hand (field 1 of each: the service name, the status enum).
 *
 * Tested by http/grpc_test.ts (a python3-grpcio server's health service) and
 * grpc_health_test.ts.
 *
 * @module
 */
import type { ActiveHealthCheck } from "../config/types.ts";
import type { H2ClientConnection } from "../proto/h2/client.ts";
import { HeaderList } from "../proto/header_list.ts";
import { readWhole } from "../proto/message.ts";
import type { ProbeResult } from "./transport.ts";

const STATUS_NAMES = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];
/** Response bytes read at most: a HealthCheckResponse is a few bytes. */
const MAX_RESPONSE = 1024;

/** A HealthCheckRequest for `service` in a gRPC frame (uncompressed, length-prefixed). */
export function healthCheckRequest(service: string): Uint8Array {
  const name = new TextEncoder().encode(service);
  if (name.length > 127) throw new RangeError("Cannot encode a service name over 127 bytes");
  const message = name.length === 0
    ? new Uint8Array(0)
    : new Uint8Array([0x0a, name.length, ...name]);
  const frame = new Uint8Array(5 + message.length);
  new DataView(frame.buffer).setUint32(1, message.length);
  frame.set(message, 5);
  return frame;
}

/** The status of a HealthCheckResponse frame (0 UNKNOWN when the field is absent), or null. */
export function healthCheckStatus(frame: Uint8Array): number | null {
  if (frame.length < 5 || frame[0] !== 0) return null;
  const length = new DataView(frame.buffer, frame.byteOffset).getUint32(1);
  if (frame.length !== 5 + length) return null;
  const message = frame.subarray(5);
  if (message.length === 0) return 0;
  if (message[0] !== 0x08 || message.length < 2 || message[1] > 0x7f) return null;
  return message[1];
}

export async function grpcHealthCheck(
  h2: H2ClientConnection,
  scheme: string,
  authority: string,
  check: ActiveHealthCheck,
  signal: AbortSignal,
): Promise<ProbeResult> {
  const res = await h2.request({
    method: "POST",
    scheme,
    authority,
    path: "/grpc.health.v1.Health/Check",
    headers: HeaderList.from([
      ["content-type", "application/grpc"],
      ["te", "trailers"],
      ["user-agent", "Gatehouse-HealthCheck"],
    ]),
    body: healthCheckRequest(check.grpcService ?? ""),
    signal,
  });
  if (res.status !== 200) return { ok: false, detail: `status ${res.status} (gRPC health)` };
  const body = await readWhole(res.body, MAX_RESPONSE);
  const trailers = res.body === null ? res.headers : await res.trailers;
  const grpcStatus = trailers?.get("grpc-status") ?? null;
  if (grpcStatus !== "0") {
    return { ok: false, detail: `grpc-status ${grpcStatus ?? "missing"} (gRPC health)` };
  }
  const status = body === null ? null : healthCheckStatus(body);
  if (status === null) return { ok: false, detail: "malformed HealthCheckResponse" };
  return {
    ok: status === 1,
    detail: `${STATUS_NAMES[status] ?? `status ${status}`} (gRPC health)`,
  };
}
