/**
 * The HTTP/2 client side: a connection over a transport (TLS after ALPN h2, or plain TCP for h2c
 * with prior knowledge) carrying many requests at once.
 *
 * ```ts
 * const h2 = connectH2(await Deno.connectTls({ hostname, port, alpnProtocols: ["h2"] }));
 * const res = await h2.request({ method: "GET", scheme: "https", authority: "api.test", path: "/" });
 * for (let c = await res.body?.read(); c; c = await res.body!.read()) use(c);
 * const trailers = await res.trailers;
 * ```
 *
 * Concurrency: at most the peer's SETTINGS_MAX_CONCURRENT_STREAMS (100 until its SETTINGS
 * arrive); `available` says how many more fit now, so a pool can open another connection instead
 * of queueing. Requests beyond it wait in order for a free stream.
 *
 * Retries: a request the server never processed fails with `retryable: true`: refused by
 * RST_STREAM(REFUSED_STREAM) (H2StreamResetError), above the last stream id of the server's
 * GOAWAY, or not sent because the connection was going away (H2ConnectionClosedError). Any other
 * failure may have reached the server.
 *
 * @module
 */
import type { HeaderList } from "../header_list.ts";
import { type BodyReader, isBodyless } from "../message.ts";
import { H2Connection } from "./connection.ts";
import { type H2Options, localSettings } from "./options.ts";
import {
  ConnectionError,
  ErrorCode,
  errorName,
  H2ConnectionClosedError,
  H2StreamResetError,
  StreamError,
} from "./errors.ts";
import { MalformedError, parseResponse, parseTrailers } from "./fields.ts";
import { MAX_WINDOW } from "./frames.ts";
import type { HeaderBlock } from "./header_block.ts";
import { bytesBody, type TrailerSource } from "./outbound.ts";
import { InboundBody, Stream } from "./stream.ts";
import type { Transport } from "./writer.ts";

export interface H2ClientOptions extends H2Options {
  /** Called when the server sends GOAWAY. */
  readonly onGoaway?: (goaway: H2Goaway) => void;
}

/** A GOAWAY received from the server. */
export interface H2Goaway {
  readonly lastStreamId: number;
  readonly code: number;
  readonly debug: string;
}

export interface H2ClientRequest {
  readonly method: string;
  /** "https" or "http" (ignored for CONNECT without `protocol`). */
  readonly scheme: string;
  readonly authority: string;
  /** Origin-form path and query (ignored for CONNECT without `protocol`). */
  readonly path: string;
  /** `:protocol` of an extended CONNECT (RFC 8441); the server must have enabled it. */
  readonly protocol?: string;
  /** Regular fields, names lowercase; connection-specific fields and Host are left out. */
  readonly headers?: HeaderList | null;
  readonly body?: Uint8Array | BodyReader | null;
  /** Request trailers, asked for once the body is sent. */
  readonly trailers?: TrailerSource | null;
  /** Names to send as never-indexed HPACK literals. */
  readonly sensitive?: ReadonlySet<string> | null;
  /** Aborting cancels the request (RST_STREAM CANCEL). */
  readonly signal?: AbortSignal;
  /** Called with each 1xx response before the final one. */
  readonly onInformational?: (status: number, headers: HeaderList) => void;
}

export interface H2ClientResponse {
  readonly status: number;
  readonly headers: HeaderList;
  /** Null when the response has no body (END_STREAM on its head, HEAD, 204, 304). */
  readonly body: BodyReader | null;
  /** Trailers once the body is read (null without trailers or on failure; never rejects). */
  readonly trailers: Promise<HeaderList | null>;
  readonly streamId: number;
  /** Cancels the stream (RST_STREAM, default CANCEL). */
  cancel(code?: number): void;
}

/** Streams assumed allowed until the server's SETTINGS say how many. */
const ASSUMED_MAX_STREAMS = 100;

/** Opens an HTTP/2 client connection on `transport` (sends the preface and SETTINGS now). */
export function connectH2(transport: Transport, options: H2ClientOptions = {}): H2ClientConnection {
  return new H2ClientConnection(transport, options);
}

class ClientStream extends Stream {
  readonly method: string;
  head = false;
  /** Called once the stream leaves the connection's table. */
  onDone: (() => void) | null = null;
  onInformational: ((status: number, headers: HeaderList) => void) | undefined;
  #resolve: ((res: H2ClientResponse) => void) | null = null;
  #reject: ((err: unknown) => void) | null = null;
  readonly response: Promise<H2ClientResponse>;

  constructor(id: number, host: H2ClientConnection, windows: [number, number], method: string) {
    super(id, host, windows[0], windows[1]);
    this.method = method;
    this.response = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  resolve(res: H2ClientResponse): void {
    this.head = true;
    this.#resolve?.(res);
    this.#resolve = this.#reject = null;
  }

  override fail(err: Error): void {
    super.fail(err);
    this.#reject?.(err);
    this.#resolve = this.#reject = null;
  }
}

export class H2ClientConnection extends H2Connection {
  readonly #options: H2ClientOptions;
  #nextId = 1;
  #settingsSeen = false;
  #settingsResolve!: (seen: boolean) => void;
  /**
   * Resolves true once the server's first SETTINGS arrived (its limits are known), false if the
   * connection ended first. Requests need not wait for it; extended CONNECT does.
   */
  readonly ready: Promise<boolean> = new Promise((resolve) => this.#settingsResolve = resolve);
  #goaway: H2Goaway | null = null;
  #draining = false;
  #queue: { start: () => void; fail: (err: Error) => void }[] = [];
  #closeError: H2ConnectionClosedError | null = null;

  constructor(transport: Transport, options: H2ClientOptions) {
    super(
      transport,
      false,
      { ...localSettings(options), enablePush: false, maxConcurrentStreams: 0 },
      options,
    );
    this.#options = options;
    this.start();
  }

  /** The server's SETTINGS_MAX_CONCURRENT_STREAMS (100 until its SETTINGS arrive). */
  get maxConcurrentStreams(): number {
    return this.#settingsSeen ? this.peer.maxConcurrentStreams : ASSUMED_MAX_STREAMS;
  }

  /** Requests that can start now without waiting (0 once the connection is going away). */
  get available(): number {
    if (this.#draining || this.closing) return 0;
    const free = this.maxConcurrentStreams - this.openStreams - this.#queue.length;
    return Math.max(0, Math.min(free, Math.floor((MAX_WINDOW - this.#nextId) / 2) + 1));
  }

  /** The GOAWAY the server sent, or null. */
  get goaway(): H2Goaway | null {
    return this.#goaway;
  }

  /** Sends a request; resolves with the response head (the body streams on). */
  request(req: H2ClientRequest): Promise<H2ClientResponse> {
    if (this.#draining || this.closing) {
      return Promise.reject(this.#notSent("the connection is going away"));
    }
    if (req.protocol !== undefined && !this.#settingsSeen) {
      // Whether the server allows extended CONNECT is in its SETTINGS.
      return this.ready.then(() => this.request(req));
    }
    if (req.protocol !== undefined && !this.peer.enableConnectProtocol) {
      return Promise.reject(
        new TypeError(
          "Cannot send extended CONNECT: the server did not enable SETTINGS_ENABLE_CONNECT_PROTOCOL",
        ),
      );
    }
    if (req.signal?.aborted) return Promise.reject(req.signal.reason);
    if (this.openStreams < this.maxConcurrentStreams && this.#queue.length === 0) {
      return this.#start(req);
    }
    return new Promise((resolve, reject) => {
      const entry = {
        start: () => {
          req.signal?.removeEventListener("abort", onAbort);
          this.#start(req).then(resolve, reject);
        },
        fail: (err: Error) => {
          req.signal?.removeEventListener("abort", onAbort);
          reject(err);
        },
      };
      const onAbort = () => {
        this.#queue = this.#queue.filter((e) => e !== entry);
        reject(req.signal!.reason);
      };
      req.signal?.addEventListener("abort", onAbort, { once: true });
      this.#queue.push(entry);
    });
  }

  /** Stops taking requests, lets open streams finish, then closes. Resolves once closed. */
  shutdown(): Promise<void> {
    this.#draining = true;
    this.#failQueue(this.#notSent("the connection is shutting down"));
    this.#closeIfDone();
    return this.closed;
  }

  #start(req: H2ClientRequest): Promise<H2ClientResponse> {
    const id = this.#nextId;
    if (id > MAX_WINDOW) {
      this.#draining = true;
      return Promise.reject(this.#notSent("stream ids are exhausted"));
    }
    this.#nextId += 2;
    const stream = new ClientStream(
      id,
      this,
      [this.initialRecvWindow, this.peer.initialWindowSize],
      req.method,
    );
    stream.onInformational = req.onInformational;
    this.addStream(stream);
    const pseudo: [string, string][] = [[":method", req.method]];
    if (req.method !== "CONNECT" || req.protocol !== undefined) {
      pseudo.push([":scheme", req.scheme], [":authority", req.authority], [":path", req.path]);
      if (req.protocol !== undefined) pseudo.push([":protocol", req.protocol]);
    } else {
      pseudo.push([":authority", req.authority]);
    }
    const body = req.body ?? null;
    const trailers = req.trailers ?? null;
    const headers = req.headers ?? null;
    const endStream = body === null && trailers === null;
    this.sender.fields(
      stream,
      { pseudo, headers, sensitive: req.sensitive ?? null, omit: "host" },
      endStream,
    );
    if (!endStream) {
      const reader = body === null
        ? bytesBody(EMPTY)
        : body instanceof Uint8Array
        ? bytesBody(body)
        : body;
      this.sender.body(stream, reader, trailers, -1).catch(() => {
        // The stream failed; its response promise or body reader reports it.
      });
    }
    const signal = req.signal;
    if (signal && !stream.closed) {
      const onAbort = () => this.cancel(stream, ErrorCode.CANCEL, signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      stream.onDone = unlisten(signal, onAbort);
    }
    return stream.response;
  }

  /** Cancels `stream` from this side. */
  cancel(stream: Stream, code: number, reason?: unknown): void {
    if (stream.closed) return;
    this.resetStream(
      stream,
      code,
      reason instanceof Error ? reason : new H2StreamResetError(code, false),
    );
  }

  protected override isIdle(id: number): boolean {
    return id % 2 === 0 || id >= this.#nextId;
  }

  protected override peerReset(_stream: Stream, code: number): Error {
    return new H2StreamResetError(code, true);
  }

  override bodyCancelled(stream: Stream, reason: unknown): void {
    this.cancel(stream, ErrorCode.CANCEL, reason);
  }

  protected override settingsChanged(): void {
    this.#settingsSeen = true;
    this.#settingsResolve(true);
    this.#pump();
  }

  protected override streamRemoved(stream: Stream): void {
    (stream as ClientStream).onDone?.();
    if (this.openStreams === 0) this.trimBuffers();
    this.#pump();
    this.#closeIfDone();
  }

  #pump(): void {
    while (this.#queue.length > 0 && this.openStreams < this.maxConcurrentStreams) {
      if (this.#draining || this.closing) return;
      this.#queue.shift()!.start();
    }
  }

  #closeIfDone(): void {
    if (this.#draining && this.openStreams === 0 && !this.closing) {
      this.sendGoaway(0, ErrorCode.NO_ERROR, "");
      this.closeQuietly();
    }
  }

  protected override onGoaway(lastStreamId: number, code: number, debug: string): void {
    this.#goaway = { lastStreamId, code, debug };
    this.#draining = true;
    const err = new H2ConnectionClosedError(
      `Cannot send HTTP/2 request: the server is going away (GOAWAY ${errorName(code)}${
        debug ? `: ${debug}` : ""
      }) and did not process it; it is safe to retry`,
      true,
      code,
    );
    this.#failQueue(err);
    for (const stream of this.streams.values()) {
      if (stream.id > lastStreamId) {
        this.retire(stream);
        stream.fail(err);
      }
    }
    this.#options.onGoaway?.(this.#goaway);
    this.#closeIfDone();
  }

  protected override onClosed(err: H2ConnectionClosedError): void {
    this.#closeError = err;
    this.#settingsResolve(false);
    this.#failQueue(this.#notSent(err.message));
  }

  /** Why the connection closed, once it has (null while open). */
  get closeError(): H2ConnectionClosedError | null {
    return this.#closeError;
  }

  #failQueue(err: Error): void {
    const queue = this.#queue;
    this.#queue = [];
    for (const entry of queue) entry.fail(err);
  }

  #notSent(why: string): H2ConnectionClosedError {
    return new H2ConnectionClosedError(`Cannot send HTTP/2 request: ${why}; it was not sent`, true);
  }

  protected override onHeaderBlock(block: HeaderBlock): void {
    const { streamId: id, tooLarge, endStream } = block;
    const stream = this.streams.get(id) as ClientStream | undefined;
    if (stream === undefined) {
      if (this.isIdle(id)) {
        throw new ConnectionError(
          ErrorCode.PROTOCOL_ERROR,
          `HEADERS on stream ${id}, never opened`,
        );
      }
      return this.headersForUnknownStream(id, endStream);
    }
    if (stream.endReceived) {
      throw new StreamError(id, ErrorCode.STREAM_CLOSED, "HEADERS after END_STREAM");
    }
    if (tooLarge) {
      this.cancel(
        stream,
        ErrorCode.CANCEL,
        new Error(
          `Cannot read HTTP/2 response: its header list exceeds ${this.local.maxHeaderListSize} bytes`,
        ),
      );
      return;
    }
    try {
      if (stream.head) this.#trailers(stream, block);
      else this.#head(stream, block);
    } catch (err) {
      if (!(err instanceof MalformedError)) throw err;
      if (this.stats) this.stats.malformedMessages++;
      throw new StreamError(id, ErrorCode.PROTOCOL_ERROR, `malformed response: ${err.message}`);
    }
  }

  #head(stream: ClientStream, block: HeaderBlock): void {
    const head = parseResponse(block.fields.names, block.fields.values);
    if (head.status < 200) {
      if (block.endStream) throw new MalformedError(`END_STREAM on a ${head.status} response`);
      try {
        stream.onInformational?.(head.status, head.headers);
      } catch (err) {
        this.cancel(stream, ErrorCode.CANCEL, err);
      }
      return;
    }
    const bodiless = isBodyless(stream.method, head.status);
    stream.contentLength = bodiless ? 0 : head.contentLength;
    if (block.endStream && stream.contentLength > 0) {
      throw new MalformedError(`content-length ${stream.contentLength} without a body`);
    }
    const inbound = block.endStream ? null : new InboundBody(stream, stream.contentLength);
    stream.inbound = inbound;
    stream.resolve({
      status: head.status,
      headers: head.headers,
      body: inbound,
      trailers: inbound?.trailers ?? Promise.resolve(null),
      streamId: stream.id,
      cancel: (code = ErrorCode.CANCEL) => this.cancel(stream, code),
    });
    if (block.endStream) this.endReceived(stream, null);
  }

  #trailers(stream: ClientStream, block: HeaderBlock): void {
    if (!block.endStream) throw new MalformedError("trailers without END_STREAM");
    const trailers = parseTrailers(block.fields.names, block.fields.values);
    if (stream.contentLength >= 0 && stream.received !== stream.contentLength) {
      throw new MalformedError(
        `body of ${stream.received} bytes, content-length ${stream.contentLength}`,
      );
    }
    this.endReceived(stream, trailers);
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Removes `listener` from `signal`. Made by a function, not assigned as a literal: see
 * `stream.onFailure` in proto/h2_front.ts.
 */
function unlisten(signal: AbortSignal, listener: () => void): () => void {
  return () => signal.removeEventListener("abort", listener);
}
