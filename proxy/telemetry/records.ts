/**
 * What the access log and the metrics record about each finished request and TCP connection:
 * plain data, written by the request pipeline and the TCP sessions, read by log formats and
 * metrics. A leaf module anyone may import.
 *
 * Types only; filled by the pipeline and TCP sessions, read by log_format_test.ts and
 * metrics_test.ts.
 */

/**
 * Who a failed request's failure belongs to: the client (refused, went away, bad body), the
 * upstream (unreachable, reset, too slow, malformed answer), no upstream available, Gatehouse
 * itself ending it at the drain deadline, or a bug in Gatehouse.
 */
export type FailureSource = "client" | "upstream" | "unavailable" | "drain" | "gatehouse";

/** One request as the access log records it. */
export interface AccessRecord {
  readonly requestId: string;
  readonly entrypoint: string;
  readonly route: string | null;
  readonly service: string | null;
  /** URL of the upstream server that answered (or failed last). */
  readonly upstream: string | null;
  readonly clientIp: string;
  readonly method: string;
  readonly target: string;
  readonly host: string;
  /** "HTTP/1.0", "HTTP/1.1" or "HTTP/2". */
  readonly protocol: string;
  /** What the exchange was: plain HTTP, an Upgrade tunnel, server-sent events, or gRPC. */
  readonly kind: "http" | "websocket" | "sse" | "grpc";
  readonly status: number;
  /** Request body bytes received. */
  readonly bytesIn: number;
  /** Response body bytes sent. */
  readonly bytesOut: number;
  readonly durationMs: number;
  readonly userAgent: string | null;
  readonly referer: string | null;
  /** Upstream attempts (more than 1 after a retry). */
  readonly attempts: number;
  /** Why the proxy answered itself, when it did. */
  readonly error: string | null;
  /** Whose failure it was, when the request failed (null when it did not). */
  readonly source: FailureSource | null;
  /**
   * Why Gatehouse refused the request (a RejectReason of proxy/proto/rejection.ts: a fixed set,
   * labels gatehouse_requests_rejected_total), or null.
   */
  readonly reason: string | null;
  /** Request fields removed for an "_" in their name (forwarding.header_underscores: drop). */
  readonly droppedHeaders: number;
  /**
   * A gRPC call's grpc-status (from the response head of a trailers-only answer, else its
   * trailers), as sent ("0" to "16" for the defined codes); null for other requests, or a call
   * that ended without one.
   */
  readonly grpcStatus: string | null;
  /** The user a basic_auth middleware let in, or null. */
  readonly user: string | null;
  /**
   * The target the upstream got when it differs from the client's (normalised, prefix stripped or
   * rewritten by a middleware), else null.
   */
  readonly upstreamTarget: string | null;
  /** The middleware that refused or answered the request itself, or null. */
  readonly middleware: string | null;
  /**
   * Why that middleware refused it (a fixed set per kind, labels
   * gatehouse_middleware_rejections_total), or null when it answered without refusing.
   */
  readonly middlewareReason: string | null;
}

/** How a TCP connection ended. */
export type TcpOutcome =
  | "closed" // both directions ended cleanly
  | "reset" // a side failed (reset, broken pipe)
  | "idle_timeout"
  | "drained" // closed by shutdown or route removal after the grace period
  | "refused" // connection limit, or shutting down
  | "proxy_protocol" // a PROXY header missing, malformed, or from a peer not trusted to send one
  | "client_hello" // no usable TLS ClientHello where one was needed
  | "tls_handshake"
  | "no_route"
  | "unavailable" // no server of the service could be picked
  | "connect_failed"; // every connect attempt failed or timed out

/** One TCP connection as the access log records it (when it ends). */
export interface TcpRecord {
  readonly protocol: "TCP";
  readonly entrypoint: string;
  readonly route: string | null;
  readonly service: string | null;
  /** URL of the upstream server (or the last one tried). */
  readonly upstream: string | null;
  /** The client's address (from the PROXY header when a trusted load balancer sent one). */
  readonly clientIp: string;
  readonly clientPort: number;
  /** Server name of the client's TLS hello, when one was read. */
  readonly sni: string | null;
  /** "terminated" here, forwarded untouched ("passthrough"), or no TLS seen ("none"). */
  readonly tls: "terminated" | "passthrough" | "none";
  /** Bytes from the client to the upstream. */
  readonly bytesUp: number;
  /** Bytes from the upstream to the client. */
  readonly bytesDown: number;
  readonly durationMs: number;
  readonly outcome: TcpOutcome;
  /** Upstream connect attempts. */
  readonly attempts: number;
  readonly error: string | null;
}

/** Why a UDP session ended. */
export type UdpOutcome =
  | "idle" // no datagram either way for the route's idle timeout
  | "closed" // its route or entrypoint was removed, or the proxy shut down
  | "refused" // the entrypoint's session cap was reached
  | "unavailable"; // no server of the service could be used

/** One UDP session: a client address and its upstream socket, from first to last datagram. */
export interface UdpRecord {
  readonly protocol: "UDP";
  readonly entrypoint: string;
  readonly route: string | null;
  readonly service: string | null;
  /** URL of the upstream server. */
  readonly upstream: string | null;
  readonly clientIp: string;
  readonly clientPort: number;
  /** Datagrams and bytes from the client to the upstream. */
  readonly datagramsUp: number;
  readonly bytesUp: number;
  /** Datagrams and bytes from the upstream to the client. */
  readonly datagramsDown: number;
  readonly bytesDown: number;
  readonly durationMs: number;
  readonly outcome: UdpOutcome;
  readonly error: string | null;
}
