/**
 * The YAML keys of UDP forwarding: `udp_routes` (schema.ts puts them in place).
 *
 * Tested by resolve_udp_test.ts.
 *
 * @module
 */
import { def, list, obj, opt, req, type ScalarNode } from "./dsl.ts";
import { dur, text } from "./values.ts";

/** One item of `udp_routes`; the name nodes are schema.ts's. */
export function udpRoute(names: { entrypoint: ScalarNode<string>; route: ScalarNode<string> }) {
  return obj({
    name: opt(
      names.route,
      "Unique name (across all routes) used in logs and metrics",
      'the first entrypoint and "/udp", e.g. "dns/udp"',
    ),
    entrypoints: req(
      list(names.entrypoint, { nonEmpty: "list at least one entrypoint", unique: true }),
      "UDP entrypoints serving it (one udp route per entrypoint)",
    ),
    service: req(
      text({ expected: "a service name", pattern: /^[\s\S]+$/ }),
      `A key of "services" whose servers are udp://`,
    ),
    timeouts: def(
      obj({
        idle: def(
          dur(),
          "30s",
          "A client's session (and its upstream socket) ends after this long without a datagram",
        ),
      }),
      {},
      "Per-route timeouts",
    ),
  }, "udp route");
}
