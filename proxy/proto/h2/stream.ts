/**
 * One HTTP/2 stream's state (RFC 9113 5.1) and its incoming body.
 *
 * The incoming body is pull-based: DATA payloads are copied out of the connection's read buffer
 * into the stream's queue, and the window the peer may fill is given back (WINDOW_UPDATE) only
 * as the consumer reads. A consumer that stops reading therefore stops the peer after one window
 * of data: that is the memory a stalled stream can hold. Once several small DATA payloads wait
 * unread, further ones are packed into shared 4 KiB chunks, so a peer sending one byte per frame
 * cannot turn a 64 KiB window into 64,000 separate arrays.
 *
 * @module
 */
import type { HeaderList } from "../header_list.ts";
import type { BodyReader } from "../message.ts";

/** What a stream needs from its connection. */
export interface StreamHost {
  /** The consumer took `n` bytes of `stream`'s data: window to give back. */
  consumed(stream: Stream, n: number): void;
  /** The consumer gave up the body of `stream` (BodyReader.cancel). */
  bodyCancelled(stream: Stream, reason: unknown): void;
}

/** DATA payloads below this size are packed into shared chunks... */
const PACK_BELOW = 1024;
/** ...once this many chunks wait unread. */
const PACK_AFTER = 8;
const PACK_CHUNK = 4096;

export class Stream {
  readonly id: number;
  readonly host: StreamHost;
  /** The peer sent END_STREAM (or the stream was reset). */
  endReceived = false;
  /** This side sent END_STREAM (or the stream was reset). */
  endSent = false;
  /** Removed from the connection: done or reset. */
  closed = false;
  /** Window the peer may still fill on this stream. */
  recvWindow: number;
  /** Bytes consumed but not yet given back with WINDOW_UPDATE. */
  unacked = 0;
  /** Window this side may still fill on this stream. */
  sendWindow: number;
  /** Content-Length of the incoming message, or -1. */
  contentLength = -1;
  /** DATA bytes received (without padding). */
  received = 0;
  /** The incoming body, or null when the message has none. */
  inbound: InboundBody | null = null;
  /** Why the stream ended early (a reset or the connection's end), once it has. */
  failure: Error | null = null;
  /** Called once when the stream ends early (cheaper than listening to `signal`). */
  onFailure: ((err: Error) => void) | null = null;
  #windowWaiter: { resolve: () => void; reject: (err: unknown) => void } | null = null;
  #abort: AbortController | null = null;

  constructor(id: number, host: StreamHost, recvWindow: number, sendWindow: number) {
    this.id = id;
    this.host = host;
    this.recvWindow = recvWindow;
    this.sendWindow = sendWindow;
  }

  /** Aborted when the stream ends early (made on first use). */
  get signal(): AbortSignal {
    if (this.#abort === null) {
      this.#abort = new AbortController();
      if (this.failure) this.#abort.abort(this.failure);
    }
    return this.#abort.signal;
  }

  /** Resolves when the send window may have opened (WINDOW_UPDATE, SETTINGS); rejects on failure. */
  windowOpened(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.#windowWaiter = { resolve, reject });
  }

  /** Wakes a sender waiting for window. */
  wake(): void {
    const w = this.#windowWaiter;
    if (w) {
      this.#windowWaiter = null;
      w.resolve();
    }
  }

  /** Ends the stream early with `err`: the body reader, a waiting sender and the signal see it. */
  fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.inbound?.fail(err);
    const w = this.#windowWaiter;
    if (w) {
      this.#windowWaiter = null;
      w.reject(err);
    }
    this.#abort?.abort(err);
    this.onFailure?.(err);
  }
}

/** A stream's incoming DATA as a BodyReader, with its trailers. */
export class InboundBody implements BodyReader {
  readonly length: number;
  readonly #stream: Stream;
  #chunks: Uint8Array[] = [];
  #first = 0;
  #pack: Uint8Array | null = null;
  /** Lent to a waiting reader, reused once it reads again (the BodyReader contract). */
  #lendable: Uint8Array | null = null;
  #packStart = 0;
  #packEnd = 0;
  #buffered = 0;
  #ended = false;
  #cancelled = false;
  #touched = false;
  #failure: Error | null = null;
  #waiter: { resolve: (c: Uint8Array | null) => void; reject: (err: unknown) => void } | null =
    null;
  #trailers: HeaderList | null = null;
  #trailersResolve!: (t: HeaderList | null) => void;
  /** The trailers once the body ended (null when there were none, or the stream failed). */
  readonly trailers: Promise<HeaderList | null>;

  constructor(stream: Stream, length: number) {
    this.#stream = stream;
    this.length = length;
    this.trailers = new Promise((resolve) => this.#trailersResolve = resolve);
  }

  /** Bytes received and not yet read. */
  get buffered(): number {
    return this.#buffered;
  }

  get cancelled(): boolean {
    return this.#cancelled;
  }

  /** True once a consumer read (or tried to read) from the body. */
  get touched(): boolean {
    return this.#touched;
  }

  /** Queues a copy of `data` (a view of the connection's read buffer). */
  push(data: Uint8Array): void {
    const n = data.length;
    if (n === 0) return;
    if (this.#waiter !== null) {
      const w = this.#waiter;
      this.#waiter = null;
      this.#stream.host.consumed(this.#stream, n);
      w.resolve(this.#lend(data));
      return;
    }
    this.#buffered += n;
    if (
      this.#pack === null && (n >= PACK_BELOW || this.#chunks.length - this.#first < PACK_AFTER)
    ) {
      this.#chunks.push(data.slice());
      return;
    }
    // Many small chunks wait unread: pack them (a peer sending one byte per frame).
    if (n >= PACK_BELOW || this.#pack === null || this.#pack.length - this.#packEnd < n) {
      this.#sealPack();
      if (n >= PACK_BELOW) {
        this.#chunks.push(data.slice());
        return;
      }
      this.#pack = new Uint8Array(PACK_CHUNK);
      this.#packStart = this.#packEnd = 0;
    }
    this.#pack.set(data, this.#packEnd);
    this.#packEnd += n;
  }

  /** The peer ended the body, with `trailers` or null. */
  end(trailers: HeaderList | null): void {
    this.#ended = true;
    this.#trailers = trailers;
    if (this.#waiter !== null && this.#buffered === 0) {
      const w = this.#waiter;
      this.#waiter = null;
      w.resolve(null);
    }
    if (this.#buffered === 0) this.#trailersResolve(trailers);
  }

  /** The stream failed: a pending or later read rejects with `err`. */
  fail(err: Error): void {
    if (this.#failure || (this.#ended && this.#buffered === 0)) return;
    this.#failure = err;
    this.#dropBuffered();
    this.#trailersResolve(null);
    const w = this.#waiter;
    if (w) {
      this.#waiter = null;
      w.reject(err);
    }
  }

  read(): Promise<Uint8Array | null> {
    const now = this.readNow();
    if (now !== undefined) return Promise.resolve(now);
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => this.#waiter = { resolve, reject });
  }

  readNow(): Uint8Array | null | undefined {
    this.#touched = true;
    if (this.#failure) throw this.#failure;
    if (this.#cancelled) return null;
    let chunk: Uint8Array | undefined;
    if (this.#first < this.#chunks.length) {
      chunk = this.#chunks[this.#first];
      this.#chunks[this.#first++] = EMPTY;
      if (this.#first === this.#chunks.length) {
        this.#chunks.length = 0;
        this.#first = 0;
      }
    } else if (this.#pack !== null && this.#packEnd > this.#packStart) {
      chunk = this.#pack.subarray(this.#packStart, this.#packEnd);
      this.#packStart = this.#packEnd;
    }
    if (chunk !== undefined) {
      this.#buffered -= chunk.length;
      this.#stream.host.consumed(this.#stream, chunk.length);
      if (this.#ended && this.#buffered === 0) this.#trailersResolve(this.#trailers);
      return chunk;
    }
    return this.#ended ? null : undefined;
  }

  cancel(reason?: unknown): void {
    if (this.#cancelled || this.#failure) return;
    this.#cancelled = true;
    this.#dropBuffered();
    this.#trailersResolve(null);
    const w = this.#waiter;
    if (w) {
      this.#waiter = null;
      w.resolve(null);
    }
    this.#stream.host.bodyCancelled(this.#stream, reason);
  }

  /**
   * A copy of `data` in the buffer lent to the reader waiting for it: the reader is in `read()`,
   * so the chunk lent before is no longer in use. One buffer per body instead of one per frame.
   */
  #lend(data: Uint8Array): Uint8Array {
    if (this.#lendable === null || this.#lendable.length < data.length) {
      this.#lendable = new Uint8Array(Math.max(data.length, LEND_SIZE));
    }
    const chunk = this.#lendable.subarray(0, data.length);
    chunk.set(data);
    return chunk;
  }

  /** Moves the packed bytes not yet handed out to the chunk queue. */
  #sealPack(): void {
    if (this.#pack !== null && this.#packEnd > this.#packStart) {
      this.#chunks.push(this.#pack.subarray(this.#packStart, this.#packEnd));
    }
    this.#pack = null;
  }

  /** Forgets unread bytes, giving their window back. */
  #dropBuffered(): void {
    const n = this.#buffered;
    this.#chunks = [];
    this.#first = 0;
    this.#pack = null;
    this.#buffered = 0;
    if (n > 0) this.#stream.host.consumed(this.#stream, n);
  }
}

const EMPTY = new Uint8Array(0);
/** The lent buffer's size: one DATA frame at the default SETTINGS_MAX_FRAME_SIZE. */
const LEND_SIZE = 16_384;
