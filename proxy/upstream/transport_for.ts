/**
 * Which transport reaches a server: the one place that maps a server's scheme (and later its
 * protocol settings) to an implementation.
 *
 * Tested by service_test.ts and health_test.ts.
 */
import type { ServerRef, Service } from "../config/types.ts";
import { H1Transport } from "./h1_transport.ts";
import { StreamTransport } from "./stream_transport.ts";
import type { HttpTransport, Transport, TransportDeps } from "./transport.ts";

/** The transport for `ref`, a server of `service`. */
export function transportFor(
  ref: ServerRef,
  service: Service,
  deps: TransportDeps,
): Transport | HttpTransport {
  if (ref.scheme === "tcp") return new StreamTransport(ref, service, deps);
  return new H1Transport(ref, service, deps);
}
