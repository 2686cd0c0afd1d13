/**
 * The request and response shapes the proxy pipeline works on, independent of the wire protocol.
 *
 * The HTTP/1.1 engine (h1/server.ts) and the HTTP/2 front end (h2_front.ts) both produce an
 * `IncomingRequest` and write an `OutgoingResponse`; the handler never sees sockets, except
 * through `IncomingRequest.takeover` when it turns a request into a tunnel (an HTTP/1.1 Upgrade,
 * or an HTTP/2 extended CONNECT).
 *
 * Trailers travel beside the body as a `TrailerSource`: asked for once the body has ended, so a
 * writer that cannot send them (an HTTP/1.1 client that did not send `TE: trailers`) never waits
 * for them.
 *
 * Types, and isBodyless (tested by http/head_test.ts).
 */
import { concatBytes } from "../bytes.ts";
import type { HeaderList } from "./header_list.ts";
import type { ByteConn } from "../net/buffered_conn.ts";

/**
 * A pull-based body: each `read()` yields the next chunk, or null at the end.
 *
 * Chunks are lent, not given: a chunk from `read()` or `readNow()` stays valid until the next
 * `read()` or `cancel()` on the same reader (`readNow()` calls do not end it), so that a reader
 * can hand out views of a buffer it reuses (HTTP/1.1 bodies do: net/buffered_conn.ts; an HTTP/2
 * stream lends views of the pooled buffers its DATA waits in: h2/stream.ts). A consumer that keeps
 * bytes longer copies them: h1/coalesce.ts when it holds chunks to join across a read, `readWhole`
 * below. The HTTP/2 engine copies DATA into its frame buffer before it reads again, compression
 * hands a chunk to zlib and reads the next only once zlib took it, taps only look at chunks as
 * they pass.
 */
export interface BodyReader {
  /** Declared length in bytes, or -1 when unknown (chunked, close-delimited, streamed). */
  readonly length: number;
  /** The next chunk (lent, see above), or null when the body is complete. */
  read(): Promise<Uint8Array | null>;
  /**
   * Like `read`, but without waiting: the next chunk (lent) or null when it is already known
   * (the bytes are buffered), undefined when getting it needs I/O. Optional: wrappers forward
   * it when their source has it, so writers can put ready bytes into one write (see
   * h1/coalesce.ts).
   */
  readNow?(): Uint8Array | null | undefined;
  /** Gives up on the rest of the body and releases its source. Idempotent. */
  cancel(reason?: unknown): void;
  /**
   * Optional, for consumers: the body has ended and nothing it lent is in use any more (the last
   * chunk was written or copied). Lets the reader reuse the buffer its last chunk was lent from,
   * which it cannot while the consumer may still hold that chunk; a consumer that does not call
   * it only leaves that buffer to the garbage collector. Wrappers forward it.
   */
  release?(): void;
}

/**
 * All of `body` in one array (copies of its lent chunks); null when it runs past `limit` bytes,
 * in which case the rest is cancelled. A null body is empty.
 */
export function readWhole(body: BodyReader | null): Promise<Uint8Array<ArrayBuffer>>;
export function readWhole(
  body: BodyReader | null,
  limit: number,
): Promise<Uint8Array<ArrayBuffer> | null>;
export async function readWhole(
  body: BodyReader | null,
  limit = Infinity,
): Promise<Uint8Array<ArrayBuffer> | null> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (let c = await body?.read(); c; c = await body!.read()) {
    size += c.length;
    if (size > limit) {
      body!.cancel();
      return null;
    }
    parts.push(c.slice());
  }
  return concatBytes(parts, size);
}

/**
 * The trailer fields of a message, asked for once its body has ended: null when it had none.
 * Calling it again returns the same answer (it never re-reads anything).
 */
export type TrailerSource = () => Promise<HeaderList | null>;

/** Who is on the other end of a client connection. */
export interface ClientInfo {
  /** IP address of the peer, without brackets. */
  readonly address: string;
  readonly port: number;
  /** Name of the entrypoint that accepted the connection. */
  readonly entrypoint: string;
  readonly tls: boolean;
  /** SNI the client sent, lowercase; null without TLS or without SNI. */
  readonly serverName: string | null;
}

/**
 * A connection handed over by an HTTP engine for a tunnel, with bytes it had already read: the
 * client's HTTP/1.1 connection after an Upgrade, or an HTTP/2 stream after an extended CONNECT
 * (then `conn` reads and writes the stream's DATA, and `closeWrite` ends the stream).
 */
export interface TakenConnection {
  readonly conn: ByteConn;
  /** Bytes received after the request head that the engine had buffered. */
  readonly buffered: Uint8Array;
  /**
   * Writes the tunnel's answer (the upstream's 101 as the client's protocol puts it: the head
   * on HTTP/1.1, a 200 HEADERS frame on HTTP/2), followed by `early`, the bytes the upstream
   * sent after its 101.
   */
  readonly accept: (res: OutgoingResponse, early: Uint8Array) => Promise<void>;
  /** Sets the connection's deadline (epoch ms, 0 = none), enforced by the registry sweep. */
  readonly setDeadline: (epochMs: number) => void;
  /**
   * Registers what to run when the registry closes the connection (deadline, drain): the
   * tunnel's other side must close too, even when it is only waiting for its peer.
   */
  readonly onClose: (close: () => void) => void;
  /** Call once the connection is closed: it leaves the connection registry. */
  readonly finish: () => void;
}

export interface IncomingRequest {
  readonly method: string;
  /**
   * The request target as received: on HTTP/1.1 any form the client sent (origin, absolute,
   * authority or asterisk); on HTTP/2 `:path` ("" for CONNECT). The pipeline's request checks
   * (request_checks.ts) turn it into the origin-form target it forwards.
   */
  readonly target: string;
  /**
   * HTTP/2's :authority (the Host field when it is absent); null on HTTP/1.x, where the Host
   * field or an absolute-form target gives it. Request checks decide the authority.
   */
  readonly authority: string | null;
  readonly httpVersion: "1.0" | "1.1" | "2";
  readonly headers: HeaderList;
  /** Null when the request has no body. */
  readonly body: BodyReader | null;
  /** The request's trailers (a chunked HTTP/1.1 body, HTTP/2); null when it can have none. */
  readonly trailers: TrailerSource | null;
  readonly client: ClientInfo;
  /**
   * Aborted when the client goes away before the response is complete, or with the reason
   * `DEADLINE_CUT` when Gatehouse ends the request itself (the drain deadline passed).
   */
  readonly signal: AbortSignal;
  /**
   * Present for requests that may become a tunnel (HTTP/1.1, and HTTP/2 extended CONNECT): takes
   * the raw connection (or stream) out of the HTTP engine, as a tunnel opened by `route`. After
   * it, the engine writes nothing more on it; the caller owns and closes it.
   */
  readonly takeover: ((route: string) => TakenConnection) | null;
}

export interface OutgoingResponse {
  readonly status: number;
  /** Reason phrase for HTTP/1.1; the standard one is used when absent. */
  readonly reason?: string;
  readonly headers: HeaderList;
  /**
   * Bytes, a streamed body, or null. The front end owns framing: it sets Content-Length or
   * chunked encoding from the body, except when no body may be sent (HEAD, 1xx, 204, 304), where
   * the headers are written as given.
   */
  readonly body: Uint8Array | BodyReader | null;
  /**
   * Trailers, sent after the body on HTTP/2 and to HTTP/1.1 clients that sent `TE: trailers`
   * (the body then goes chunked); dropped otherwise.
   */
  readonly trailers?: TrailerSource | null;
  /** HTTP/1.1: close the connection after this response (a refused request). */
  readonly close?: boolean;
  /**
   * HTTP/1.1: how long the client may take no byte of this response before its connection is
   * closed (0: no limit); the server's own bound when absent. HTTP/2 keeps one bound per
   * connection, whose streams belong to many routes.
   */
  readonly sendIdleMs?: number;
}

/** What a handler returns after it took over the connection (see `IncomingRequest.takeover`). */
export const TAKEN_OVER = Symbol("taken-over");

/** The abort reason of a request Gatehouse ended because the drain deadline passed. */
export const DEADLINE_CUT = Symbol("deadline-cut");

export type Handler = (req: IncomingRequest) => Promise<OutgoingResponse | typeof TAKEN_OVER>;

/** True when a response with this status to this method carries no body on the wire. */
export function isBodyless(method: string, status: number): boolean {
  return method === "HEAD" || status < 200 || status === 204 || status === 304;
}
