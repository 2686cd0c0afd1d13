/**
 * The HTTP/2 server side: `serveH2(transport, options)` serves one connection (after ALPN h2, or
 * after the h2c prior-knowledge preface on plain TCP) and hands each request stream to
 * `options.onRequest` as an `H2Request`.
 *
 * ```ts
 * const conn = serveH2(tlsConn, {
 *   onRequest(req) {
 *     void req.respond({ status: 200, headers: HeaderList.from([["content-type", "text/plain"]]), body: bytes });
 *   },
 * });
 * await conn.shutdown(); // GOAWAY, let open streams finish, close
 * ```
 *
 * Requests are validated (fields.ts) before `onRequest` sees them; a malformed one is reset with
 * PROTOCOL_ERROR, one whose header list is over SETTINGS_MAX_HEADER_LIST_SIZE gets 431, and one
 * beyond SETTINGS_MAX_CONCURRENT_STREAMS is refused (REFUSED_STREAM, safe to retry).
 *
 * A handler that does not need a request body should cancel it (`req.body.cancel()`): once the
 * response is complete the client is then told to stop sending (RST_STREAM NO_ERROR). A body
 * nobody reads nor cancels holds its stream open until the client finishes it.
 *
 * Graceful shutdown is two-step, like nghttp2 and hyper: GOAWAY with the largest stream id and a
 * PING, then, once the PING is answered (requests in flight have arrived), GOAWAY with the real
 * last stream id. Open streams finish; the connection closes when none is left.
 *
 * @module
 */
import { HeaderList } from "../header_list.ts";
import { type BodyReader, isBodyless } from "../message.ts";
import { H2Connection } from "./connection.ts";
import { type H2Options, localSettings } from "./options.ts";
import { ConnectionError, ErrorCode, H2StreamResetError, StreamError } from "./errors.ts";
import { MalformedError, parseRequest, parseTrailers, type RequestHead } from "./fields.ts";
import { MAX_WINDOW } from "./frames.ts";
import type { HeaderBlock } from "./header_block.ts";
import { bytesBody } from "./outbound.ts";
import type { DecodedFields } from "./hpack/decoder.ts";
import { InboundBody, Stream } from "./stream.ts";
import type { Transport } from "./writer.ts";

export interface H2ServerOptions extends H2Options {
  /** Called for each valid request. */
  readonly onRequest: (req: H2Request) => void;
  /** Bytes already read from the transport (the preface, when sniffing for h2c). */
  readonly initialBytes?: Uint8Array;
  /** SETTINGS_MAX_CONCURRENT_STREAMS (default 100). */
  readonly maxConcurrentStreams?: number;
  /** Announce SETTINGS_ENABLE_CONNECT_PROTOCOL and accept extended CONNECT (default false). */
  readonly enableConnectProtocol?: boolean;
}

/** A response to send. */
export interface H2Response {
  /** 200..599. */
  readonly status: number;
  readonly headers?: HeaderList;
  /** Bytes, a pull-based body, or none. Not sent for HEAD, 204 and 304 (a reader is cancelled). */
  readonly body?: Uint8Array | BodyReader | null;
  /** Trailers, asked for once the body is sent (gRPC status, ...). */
  readonly trailers?: (() => HeaderList | null | Promise<HeaderList | null>) | null;
  /** Names to send as never-indexed HPACK literals. */
  readonly sensitive?: ReadonlySet<string> | null;
}

/** How long a graceful shutdown waits for its PING before sending the final GOAWAY. */
const SHUTDOWN_PING_MS = 1000;

/** Serves HTTP/2 on `transport` until the peer leaves, an error, or shutdown. */
export function serveH2(transport: Transport, options: H2ServerOptions): H2ServerConnection {
  return new H2ServerConnection(transport, options);
}

export class H2ServerConnection extends H2Connection {
  readonly #options: H2ServerOptions;
  /** Last stream id of the final GOAWAY sent; MAX_WINDOW until then. */
  #goawayLast = MAX_WINDOW;
  #shutdown: Promise<void> | null = null;

  constructor(transport: Transport, options: H2ServerOptions) {
    super(
      transport,
      true,
      {
        ...localSettings(options),
        maxConcurrentStreams: options.maxConcurrentStreams ?? 100,
        enableConnectProtocol: options.enableConnectProtocol ?? false,
      },
      options,
      options.initialBytes,
    );
    this.#options = options;
    this.start();
  }

  /** The stream id of the last request accepted so far. */
  get lastStreamId(): number {
    return this.lastPeerStreamId;
  }

  /**
   * Graceful shutdown: announce it, let open streams finish, then close. Resolves once closed.
   * Call `close()` to cut it short (a drain deadline).
   */
  shutdown(): Promise<void> {
    if (this.#shutdown) return this.#shutdown;
    if (this.closing) return this.#shutdown = this.closed;
    this.sendGoaway(MAX_WINDOW, ErrorCode.NO_ERROR, "shutting down");
    const final = () => {
      if (this.#goawayLast !== MAX_WINDOW || this.closing) return;
      this.#goawayLast = this.lastPeerStreamId;
      this.sendGoaway(this.#goawayLast, ErrorCode.NO_ERROR, "shutting down");
      this.#closeIfDone();
    };
    const timer = setTimeout(final, SHUTDOWN_PING_MS);
    this.ping().then(final, () => {}).finally(() => clearTimeout(timer));
    return this.#shutdown = this.closed;
  }

  #closeIfDone(): void {
    if (this.#goawayLast !== MAX_WINDOW && this.openStreams === 0) this.closeQuietly();
  }

  protected override isIdle(id: number): boolean {
    return id % 2 === 0 || id > this.lastPeerStreamId;
  }

  protected override peerReset(_stream: Stream, code: number): Error {
    return new H2StreamResetError(code, true);
  }

  protected override streamRemoved(): void {
    if (this.openStreams === 0) this.trimBuffers();
    if (this.#goawayLast !== MAX_WINDOW) queueMicrotask(() => this.#closeIfDone());
  }

  protected override onGoaway(): void {
    // The client opens no more streams; those open finish. Close once none is left.
    this.#goawayLast = Math.min(this.#goawayLast, this.lastPeerStreamId);
    this.#closeIfDone();
  }

  override bodyCancelled(stream: Stream): void {
    const req = stream as H2Request;
    if (req.responseDone && !stream.endReceived) {
      this.resetStream(stream, ErrorCode.NO_ERROR, "request body not needed");
    }
  }

  protected override onHeaderBlock(block: HeaderBlock): void {
    const { streamId: id, fields, tooLarge, endStream, priority } = block;
    const existing = this.streams.get(id);
    if (existing !== undefined) {
      return this.#trailers(existing as H2Request, fields, tooLarge, endStream);
    }
    if (id % 2 === 0) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `HEADERS on stream ${id}, an even id`);
    }
    if (id <= this.lastPeerStreamId) return this.headersForUnknownStream(id, endStream);
    this.lastPeerStreamId = id;
    if (priority?.dependency === id) {
      throw new StreamError(id, ErrorCode.PROTOCOL_ERROR, "stream depends on itself");
    }
    if (id > this.#goawayLast || this.closing) {
      this.resetId(id, ErrorCode.REFUSED_STREAM);
      return;
    }
    if (this.openStreams >= this.local.maxConcurrentStreams) {
      if (this.stats) this.stats.refusedStreams++;
      throw new StreamError(
        id,
        ErrorCode.REFUSED_STREAM,
        `more than ${this.local.maxConcurrentStreams} concurrent streams`,
      );
    }
    if (tooLarge) {
      this.#headersTooLarge(id, endStream);
      return;
    }
    let head: RequestHead;
    try {
      head = parseRequest(fields.names, fields.values, this.local.enableConnectProtocol);
    } catch (err) {
      if (!(err instanceof MalformedError)) throw err;
      if (this.stats) this.stats.malformedMessages++;
      throw new StreamError(id, ErrorCode.PROTOCOL_ERROR, `malformed request: ${err.message}`);
    }
    if (endStream && head.contentLength > 0) {
      if (this.stats) this.stats.malformedMessages++;
      throw new StreamError(
        id,
        ErrorCode.PROTOCOL_ERROR,
        `malformed request: content-length ${head.contentLength} without a body`,
      );
    }
    const req = new H2Request(
      id,
      this,
      [this.initialRecvWindow, this.peer.initialWindowSize],
      head,
      fields.sensitive,
      endStream,
    );
    this.addStream(req);
    if (endStream) this.endReceived(req, null);
    try {
      this.#options.onRequest(req);
    } catch (err) {
      // A handler's bug ends its stream, not the connection.
      this.resetStream(req, ErrorCode.INTERNAL_ERROR, err);
    }
  }

  #trailers(req: H2Request, fields: DecodedFields, tooLarge: boolean, endStream: boolean): void {
    if (req.endReceived) {
      throw new StreamError(req.id, ErrorCode.STREAM_CLOSED, "HEADERS after END_STREAM");
    }
    if (tooLarge) {
      throw new StreamError(
        req.id,
        ErrorCode.PROTOCOL_ERROR,
        "trailers over the header list limit",
      );
    }
    let trailers: HeaderList;
    try {
      if (!endStream) throw new MalformedError("trailers without END_STREAM");
      trailers = parseTrailers(fields.names, fields.values);
    } catch (err) {
      if (!(err instanceof MalformedError)) throw err;
      if (this.stats) this.stats.malformedMessages++;
      throw new StreamError(req.id, ErrorCode.PROTOCOL_ERROR, `malformed trailers: ${err.message}`);
    }
    if (req.contentLength >= 0 && req.received !== req.contentLength) {
      if (this.stats) this.stats.malformedMessages++;
      throw new StreamError(
        req.id,
        ErrorCode.PROTOCOL_ERROR,
        `body of ${req.received} bytes, content-length ${req.contentLength}`,
      );
    }
    this.endReceived(req, trailers);
  }

  /** A request whose header list is over the limit: 431, and stop its body. */
  #headersTooLarge(id: number, endStream: boolean): void {
    const stream = new Stream(id, this, this.initialRecvWindow, this.peer.initialWindowSize);
    this.addStream(stream);
    if (endStream) stream.endReceived = true;
    this.sender.fields(stream, { pseudo: [[":status", "431"]], headers: null }, true);
    if (!stream.closed) {
      this.resetStream(stream, ErrorCode.NO_ERROR, "request header list too large");
    }
  }

  /**
   * Sends the response head, body and trailers of `req`. A Content-Length is added for a body of
   * known length without trailers; a body that does not match the Content-Length sent resets the
   * stream (INTERNAL_ERROR) instead of sending a malformed response.
   */
  async respond(req: H2Request, res: H2Response): Promise<void> {
    const bodiless = isBodyless(req.method, res.status);
    let body = res.body ?? null;
    if (bodiless && body !== null && !(body instanceof Uint8Array)) body.cancel();
    if (bodiless) body = null;
    const trailers = bodiless ? null : res.trailers ?? null;
    const headers = res.headers ?? null;
    const declared = headers?.get("content-length") ?? null;
    let expected = -1;
    if (declared !== null && !bodiless) {
      if (!/^\d{1,15}$/.test(declared)) {
        throw new TypeError(`Cannot respond: invalid content-length "${declared}"`);
      }
      expected = Number(declared);
    }
    const length = body === null ? 0 : body.length;
    if (body instanceof Uint8Array && expected >= 0 && expected !== length) {
      throw new TypeError(
        `Cannot respond: a body of ${length} bytes with content-length ${expected}`,
      );
    }
    let extra: [string, string] | null = null;
    if (!bodiless && declared === null && trailers === null && length >= 0 && body !== null) {
      extra = ["content-length", String(length)];
      expected = length;
    }
    const fields = {
      pseudo: [[":status", String(res.status)]] as const,
      headers,
      sensitive: res.sensitive ?? null,
      extra,
    };
    const sender = this.sender;
    if (body === null) {
      sender.fields(req, fields, trailers === null);
      if (trailers !== null) await sender.body(req, bytesBody(EMPTY), trailers, -1);
    } else if (body instanceof Uint8Array) {
      sender.fields(req, fields, false);
      if (trailers === null) await sender.data(req, body, true);
      else await sender.body(req, bytesBody(body), trailers, expected);
    } else {
      sender.fields(req, fields, false);
      await sender.body(req, body, trailers, expected);
    }
    req.finished();
  }

  /** Sends a 1xx response (not 101). */
  informational(req: H2Request, status: number, headers: HeaderList | null): void {
    this.sender.fields(req, { pseudo: [[":status", String(status)]], headers }, false);
  }

  /** Resets `req` from this side. */
  reset(req: H2Request, code: number): void {
    this.resetStream(req, code, new H2StreamResetError(code, false));
  }

  /** The stream's response is queued in full: stop an unwanted request body. */
  responseDone(req: H2Request): void {
    if (!req.endReceived && req.inbound?.cancelled && !req.closed) {
      this.resetStream(req, ErrorCode.NO_ERROR, "request body not needed");
    }
  }
}

/** A request stream, as `onRequest` sees it. */
export class H2Request extends Stream {
  readonly method: string;
  /** `:scheme` ("" for CONNECT). */
  readonly scheme: string;
  /** `:authority` (or Host), lowercase. */
  readonly authority: string;
  /** `:path` ("" for CONNECT). */
  readonly path: string;
  /** `:protocol` of an extended CONNECT (RFC 8441), else null. */
  readonly protocol: string | null;
  /** The regular fields, names lowercase. */
  readonly headers: HeaderList;
  /** Names the client sent as never-indexed literals (forward them the same way), or null. */
  readonly sensitive: ReadonlySet<string> | null;
  readonly #conn: H2ServerConnection;
  #responded = false;
  /** The whole response is queued. */
  responseDone = false;

  constructor(
    id: number,
    conn: H2ServerConnection,
    [recvWindow, sendWindow]: [number, number],
    head: RequestHead,
    sensitive: ReadonlySet<string> | null,
    endStream: boolean,
  ) {
    super(id, conn, recvWindow, sendWindow);
    this.#conn = conn;
    this.method = head.method;
    this.scheme = head.scheme;
    this.authority = head.authority;
    this.path = head.path;
    this.protocol = head.protocol;
    this.headers = head.headers;
    this.sensitive = sensitive;
    this.contentLength = head.contentLength;
    if (!endStream) this.inbound = new InboundBody(this, head.contentLength);
  }

  /** The request body, or null when the request has none. */
  get body(): BodyReader | null {
    return this.inbound;
  }

  /** The request trailers once the body is read (null without trailers or on failure). */
  get trailers(): Promise<HeaderList | null> {
    return this.inbound?.trailers ?? Promise.resolve(null);
  }

  /** True once `respond` was called. */
  get responded(): boolean {
    return this.#responded;
  }

  /**
   * Sends the response; resolves once all of it is queued, rejects when the stream ends first
   * (client reset, connection loss) or the body fails (the stream is then reset). Await or catch
   * it: a client may reset any stream at any time.
   */
  respond(res: H2Response): Promise<void> {
    if (this.#responded) {
      return Promise.reject(new Error("Cannot respond: a response was already sent"));
    }
    if (res.status < 200 || res.status > 599) {
      return Promise.reject(new RangeError(`Cannot respond: status ${res.status} is not 200..599`));
    }
    if (this.failure) return Promise.reject(this.failure);
    this.#responded = true;
    return this.#conn.respond(this, res);
  }

  /** Sends a 1xx informational response (100, 103, ...; not 101). */
  informational(status: number, headers: HeaderList | null = null): void {
    if (this.#responded || this.failure) return;
    if (status < 100 || status > 199 || status === 101) {
      throw new RangeError(`Cannot send informational response: status ${status} is not 1xx`);
    }
    this.#conn.informational(this, status, headers);
  }

  /** Resets the stream (default CANCEL). */
  reset(code: number = ErrorCode.CANCEL): void {
    if (this.closed) return;
    this.#conn.reset(this, code);
  }

  /** Internal: the response is queued in full. */
  finished(): void {
    this.responseDone = true;
    this.#conn.responseDone(this);
  }
}

const EMPTY = new Uint8Array(0);
