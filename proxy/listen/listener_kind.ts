/**
 * What kind of listener an entrypoint needs, from its settings and the routes on it. A reload
 * that changes the kind replaces the listener (same port); other changes apply in place.
 *
 * Tested by tcp_sni_test.ts and tcp_reload_test.ts (a reload that changes the kind).
 */
import type { Config } from "../config/types.ts";
import { TcpRouter } from "../tcp/router.ts";

/**
 * - "http": HTTP, plain or TLS (the HTTP entrypoint alone).
 * - "https+passthrough": HTTPS whose ClientHellos are peeked first: passthrough routes take the
 *   names they list, everything else is relayed to the HTTPS listener.
 * - "tcp": raw TCP, looked at first when it needs a PROXY header or a ClientHello (SNI), with
 *   TLS terminated through a relay when a route asks for it.
 * - "udp": datagrams, a session per client address (udp_listener.ts).
 * - "tcp+tls": TLS terminated by the listener itself, then one route (the fast path; TCP
 *   addresses only: TLS on a unix socket goes through the "tcp" relay).
 */
export type ListenerKind = "http" | "https+passthrough" | "tcp" | "tcp+tls" | "udp";

/** The kind of listener entrypoint `name` needs under `config`. */
export function listenerKind(config: Config, name: string): ListenerKind {
  const ep = config.entrypoints[name];
  if (ep.protocol === "udp") return "udp";
  if (ep.protocol === "http") {
    const passthrough = config.tcpRoutes.some((r) => r.passthrough && r.entrypoints.includes(name));
    return ep.tls !== null && passthrough ? "https+passthrough" : "http";
  }
  const router = new TcpRouter(config.tcpRoutes, name);
  const direct = ep.tls !== null && ep.proxyProtocol === null && !router.bySni && ep.unix === null;
  return direct ? "tcp+tls" : "tcp";
}
