/**
 * The YAML keys of TCP streams: `tcp_routes` and the entrypoint's `proxy_protocol` (schema.ts
 * puts them in place).
 *
 * Tested by resolve_tcp_test.ts.
 *
 * @module
 */
import { def, inherit, list, obj, opt, req, type ScalarNode } from "./dsl.ts";
import { cidr, hostPattern } from "./net_values.ts";
import { bool, dur, oneOf, text } from "./values.ts";

/** `proxy_protocol` of an entrypoint: who sends a PROXY header. */
export const entrypointProxyProtocol = obj({
  trusted: req(
    list(cidr(), { nonEmpty: "list at least one address or CIDR block", unique: true }),
    "Load balancers that send a PROXY header (v1 or v2); others must not",
  ),
}, "proxy protocol");

/** One item of `tcp_routes`; the name nodes are schema.ts's. */
export function tcpRoute(names: { entrypoint: ScalarNode<string>; route: ScalarNode<string> }) {
  return obj({
    name: opt(
      names.route,
      "Unique name (across routes and tcp_routes) used in logs and metrics",
      'entrypoint and first sni, e.g. "db/*"',
    ),
    entrypoints: req(
      list(names.entrypoint, { nonEmpty: "list at least one entrypoint", unique: true }),
      "TCP entrypoints serving it (or HTTP ones with tls, for passthrough routes)",
    ),
    sni: opt(
      list(hostPattern(), { single: true, unique: true, nonEmpty: "list at least one name" }),
      `Server names from the TLS ClientHello, exact or "*.example.com"`,
      "none: the entrypoint's default route",
    ),
    passthrough: def(
      bool(),
      false,
      "Forward the client's TLS bytes untouched, routed by SNI, instead of terminating",
    ),
    service: req(
      text({ expected: "a service name", pattern: /^[\s\S]+$/ }),
      `A key of "services" whose servers are tcp://`,
    ),
    proxy_protocol: def(
      oneOf(["off", "v1", "v2"]),
      "off",
      "PROXY protocol header sent to the upstream before the client's bytes",
    ),
    timeouts: def(
      obj({
        idle: def(dur({ off: true }), "off", "Close both sides after this long without a byte"),
        connect: inherit(dur(), "timeouts.connect", "Connecting to an upstream server"),
      }),
      {},
      "Per-route timeouts",
    ),
  }, "tcp route");
}
