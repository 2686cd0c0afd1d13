/**
 * Which transport reaches a server: the one place that maps a server's scheme and its service's
 * `protocol` to an implementation: tcp:// streams, HTTP/2 for h2c:// and `protocol: h2` (with an
 * HTTP/1.1 fallback for `protocol: auto`), HTTP/1.1 otherwise.
 *
 * Tested by service_test.ts, health_test.ts and h2_transport_test.ts.
 */
import type { ServerRef, Service } from "../config/types.ts";
import { H1Transport } from "./h1_transport.ts";
import { H2Transport } from "./h2_transport.ts";
import { StreamTransport } from "./stream_transport.ts";
import { UdpTransport } from "./udp_transport.ts";
import type { HttpTransport, Transport, TransportDeps } from "./transport.ts";

/** The transport for `ref`, a server of `service`. */
export function transportFor(
  ref: ServerRef,
  service: Service,
  deps: TransportDeps,
): Transport | HttpTransport {
  if (ref.scheme === "udp") return new UdpTransport(ref);
  if (ref.scheme === "tcp" || ref.scheme === "unix+tcp") {
    return new StreamTransport(ref, service, deps);
  }
  if (ref.scheme === "h2c" || service.httpProtocol === "h2") {
    return new H2Transport(ref, service, deps, null);
  }
  if (service.httpProtocol === "auto") {
    return new H2Transport(ref, service, deps, new H1Transport(ref, service, deps));
  }
  return new H1Transport(ref, service, deps);
}
