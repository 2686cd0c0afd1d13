/**
 * One request/response exchange with an upstream server, whatever the protocol: what the
 * pipeline sends, what it gets back, and how an exchange fails. The HTTP/1.1 client
 * (h1/client.ts) works in these terms; upstream transports hand them on.
 *
 * Types and one error class; tested by upstream/h1_transport_test.ts.
 */
import type { HeaderList } from "./header_list.ts";
import type { BodyReader, TrailerSource } from "./message.ts";
import type { ByteConn } from "../net/buffered_conn.ts";
import { failedForWantOfFiles } from "../internal/open_files.ts";

/** Methods a repeat cannot make worse (RFC 9110 9.2.2). */
export const IDEMPOTENT: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "OPTIONS",
  "TRACE",
  "PUT",
  "DELETE",
]);

/** Why an exchange failed; decides the status code and whether a retry is safe. */
export type UpstreamFailure = "connect" | "reset" | "timeout" | "protocol" | "aborted";

export class UpstreamError extends Error {
  readonly kind: UpstreamFailure;
  /** True once the request head was written: the upstream may have acted on it. */
  readonly requestSent: boolean;
  /**
   * True when the connection failed before a single response byte: on a reused keep-alive
   * connection this is the upstream having closed it as the request went out.
   */
  readonly beforeResponse: boolean;
  /**
   * True when the failure was Gatehouse's own, not the server's: out of file descriptors, it
   * could not open a connection. It counts against no server.
   */
  readonly local: boolean;
  constructor(
    kind: UpstreamFailure,
    requestSent: boolean,
    message: string,
    beforeResponse = false,
    local = false,
  ) {
    super(message);
    this.kind = kind;
    this.requestSent = requestSent;
    this.beforeResponse = beforeResponse;
    this.local = local;
  }
}

/**
 * A failed dial as a "connect" failure (`connectMs`: the bound that passed, when it timed out);
 * out of file descriptors it is `local`, and says so: the connect failed with EMFILE/ENFILE, or
 * another error came while the process has no descriptor left (a name lookup then fails as
 * "Name or service not known").
 */
export function connectError(err: unknown, connectMs?: number): UpstreamError {
  if ((err instanceof DOMException || err instanceof Error) && err.name === "TimeoutError") {
    const after = connectMs === undefined ? "" : ` after ${connectMs} ms`;
    return new UpstreamError("connect", false, `connect timed out${after}`);
  }
  const message = `connect failed: ${err instanceof Error ? err.message : String(err)}`;
  if (!failedForWantOfFiles(err)) return new UpstreamError("connect", false, message);
  return new UpstreamError(
    "connect",
    false,
    `${message}: Gatehouse's open-file limit is reached (not the server's fault)`,
    false,
    true,
  );
}

export interface UpstreamRequest {
  readonly method: string;
  readonly target: string;
  /** The Host to send; any Host field in `headers` is ignored. */
  readonly host: string;
  /** Final headers; framing fields in them are ignored, the exchange writes its own. */
  readonly headers: HeaderList;
  readonly body: BodyReader | null;
  /**
   * Request trailers: sent to HTTP/2 upstreams; HTTP/1.1 upstreams never get them (a server may
   * merge them into the header fields Gatehouse checked).
   */
  readonly trailers?: TrailerSource | null;
}

export interface UpstreamResponse {
  readonly status: number;
  readonly reason: string;
  readonly version: "1.0" | "1.1" | "2";
  readonly headers: HeaderList;
  readonly body: BodyReader | null;
  /** Response trailers (chunked HTTP/1.1, HTTP/2), or null when the response can have none. */
  readonly trailers: TrailerSource | null;
  /** Only for 101 Switching Protocols: the raw connection, out of its pool until released. */
  readonly upgrade: UpgradedConn | null;
}

export interface ExchangeOptions {
  /** Time allowed for the response head once the request is sent; 0 = no limit. */
  readonly responseHeaderMs: number;
  /** Time a body may go without moving a byte; 0 = no limit. */
  readonly bodyIdleMs: number;
  readonly maxHeaderBytes: number;
  readonly signal: AbortSignal;
}

/** The raw connection of a 101 response, for a tunnel. */
export interface UpgradedConn {
  readonly conn: ByteConn;
  /** Bytes the upstream sent after its 101 head. */
  readonly buffered: Uint8Array;
  /** Call once the tunnel is over: the connection is closed and leaves its pool. */
  release(): void;
}
