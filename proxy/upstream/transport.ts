/**
 * How Gatehouse reaches one upstream server: the seam between "which server" (service,
 * selection, health state) and "how to talk to it" (connections, protocol). HTTP/1.1 over TCP or
 * TLS is the first implementation (h1_transport.ts); an HTTP/2 or unix-socket transport is a new
 * file and one more case in transport_for.ts.
 *
 * Tested by h1_transport_test.ts and service_test.ts.
 */
import type { ActiveHealthCheck } from "../config/types.ts";
import type { ByteConn } from "../net/buffered_conn.ts";
import type { ConnectionRegistry } from "../net/connections.ts";
import type { ExchangeOptions, UpstreamRequest, UpstreamResponse } from "../proto/exchange.ts";

/** Result of one active health probe, for logs. */
export interface ProbeResult {
  readonly ok: boolean;
  readonly detail: string;
  /**
   * The probe could not run for a reason of Gatehouse's own (out of file descriptors): it says
   * nothing of the server and changes no health state.
   */
  readonly local?: boolean;
}

/** Connections a transport holds, for status and metrics. */
export interface ConnectionCounts {
  /** Open connections, idle or in use. */
  readonly open: number;
  readonly idle: number;
}

/** A way to reach one server. */
export interface Transport {
  /** Opens a byte stream to the server (TCP services); rejects when `signal` aborts first. */
  dial(signal: AbortSignal): Promise<ByteConn>;
  /** One active health check: a connect, or a request when the check has a path. */
  probe(check: ActiveHealthCheck, signal: AbortSignal): Promise<ProbeResult>;
  connections(): ConnectionCounts;
  /** Closes idle connections; connections in use close when their work ends. */
  close(): void;
}

export interface HttpExchangeOptions extends ExchangeOptions {
  /**
   * True while the request could be sent again as it is (no body byte consumed): a transport may
   * then repeat it on a fresh connection when a reused keep-alive connection turned out stale.
   */
  readonly replayable: () => boolean;
}

/** A transport that carries HTTP exchanges. */
export interface HttpTransport extends Transport {
  exchange(req: UpstreamRequest, opts: HttpExchangeOptions): Promise<UpstreamResponse>;
}

export interface TransportDeps {
  /** Sweeps deadlines of upstream connections (response-header and idle timeouts). */
  readonly registry: ConnectionRegistry;
  /** TCP+TLS connect limit, from the live config. */
  readonly connectTimeoutMs: () => number;
}

/**
 * Runs `dial` with a signal that aborts when the caller's `signal` does or the connect timeout
 * passes (a TimeoutError DOMException, like AbortSignal.timeout's, which the dial then rejects
 * with). One timer, cleared when the dial settles: `AbortSignal.any` with `AbortSignal.timeout`
 * cost ~15 µs per dial and left a timer per connection to fire long after it was made.
 */
export async function withConnectTimeout<T>(
  signal: AbortSignal,
  deps: TransportDeps,
  dial: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  signal.throwIfAborted();
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  const timer = setTimeout(
    () => controller.abort(new DOMException("Signal timed out.", "TimeoutError")),
    deps.connectTimeoutMs(),
  );
  try {
    return await dial(controller.signal);
  } catch (err) {
    // A dial the timeout cut fails with whatever the cut broke ("operation canceled" in a TLS
    // handshake): report the timeout itself.
    throw controller.signal.aborted ? controller.signal.reason : err;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }
}

/** True when `t` carries HTTP exchanges. */
export function isHttpTransport(t: Transport): t is HttpTransport {
  return "exchange" in t;
}
