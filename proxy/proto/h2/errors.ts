/**
 * HTTP/2 error codes (RFC 9113 section 7) and the two kinds of protocol error: a connection error
 * ends the whole connection with GOAWAY, a stream error ends one stream with RST_STREAM.
 *
 * Errors surfaced to users of the engine (a reset stream, a connection that went away) are
 * `H2StreamResetError` and `H2ConnectionClosedError`; both say whether the request may be retried
 * on another connection because the peer never processed it.
 *
 * @module
 */

/** Error codes of RST_STREAM and GOAWAY. */
export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

const NAMES = Object.fromEntries(Object.entries(ErrorCode).map(([k, v]) => [v, k]));

/** The name of an error code ("PROTOCOL_ERROR"), or "0x.." for codes RFC 9113 does not define. */
export function errorName(code: number): string {
  return NAMES[code] ?? `0x${code.toString(16)}`;
}

/** A protocol violation that ends the connection (GOAWAY with `code`). */
export class ConnectionError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = "ConnectionError";
  }
}

/** A protocol violation confined to one stream (RST_STREAM with `code`). */
export class StreamError extends Error {
  constructor(readonly streamId: number, readonly code: number, message: string) {
    super(message);
    this.name = "StreamError";
  }
}

/**
 * A stream ended by RST_STREAM, from the peer or from this side. `retryable` is true for
 * REFUSED_STREAM: the peer did no work on it, so the request may go to another connection.
 */
export class H2StreamResetError extends Error {
  readonly retryable: boolean;
  constructor(
    readonly code: number,
    readonly byPeer: boolean,
    message = `Cannot continue HTTP/2 stream: reset by ${byPeer ? "peer" : "this side"} with ${
      errorName(code)
    }`,
  ) {
    super(message);
    this.name = "H2StreamResetError";
    this.retryable = byPeer && code === ErrorCode.REFUSED_STREAM;
  }
}

/**
 * The connection ended before a stream completed. `retryable` is true when the stream was never
 * processed by the peer: it was above the last stream id of the peer's GOAWAY, or never sent.
 */
export class H2ConnectionClosedError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly code: number = ErrorCode.NO_ERROR,
  ) {
    super(message);
    this.name = "H2ConnectionClosedError";
  }
}
