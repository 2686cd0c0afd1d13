/**
 * One HTTP/2 stream's state (RFC 9113 5.1) and its incoming body.
 *
 * The incoming body is pull-based: DATA payloads are copied out of the connection's read buffer
 * into the stream's queue, and the window the peer may fill is given back (WINDOW_UPDATE) only
 * as the consumer reads. A consumer that stops reading therefore stops the peer after one window
 * of data: that is the memory a stalled stream can hold. The queue is a run of 64 KiB buffers
 * from a pool (net/buffer_pool.ts), filled end to end whatever the frames' sizes: a peer sending
 * one byte per frame cannot turn a window into thousands of arrays, and a 1 GiB upload reuses
 * the same few buffers instead of leaving one array per frame to the garbage collector (issue
 * 18). A buffer holds the announced stream window, so a stalled stream at that window holds one
 * buffer (two when its body began small: a small body starts in a pooled 4 KiB head buffer), and
 * the frames a reader takes one after another are adjacent in it: a writer joins them without
 * copying (proto/h1/coalesce.ts). The reader gets views of them, lent until its next
 * `read()` (the BodyReader contract).
 *
 * Window is given back for bytes the reader is done with: those handed out before its next
 * `read()`, not as they are handed out. A reader that takes chunk after chunk with `readNow()`
 * while its writes wait (an upstream that stopped reading) thus stops the peer after one window
 * too; given back at hand-out, the window let the peer refill it while the lent chunks were still
 * held, so a stream could hold more than its window.
 *
 * @module
 */
import type { HeaderList } from "../header_list.ts";
import type { BodyReader } from "../message.ts";
import { chunkBuffers, giveToEither, headBuffers } from "../../net/buffer_pool.ts";

/** What a stream needs from its connection. */
export interface StreamHost {
  /** The consumer took `n` bytes of `stream`'s data: window to give back. */
  consumed(stream: Stream, n: number): void;
  /** The consumer gave up the body of `stream` (BodyReader.cancel). */
  bodyCancelled(stream: Stream, reason: unknown): void;
}

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
  /** The receive window this side keeps open for the stream (grows while the peer fills it). */
  recvTarget: number;
  /** Bytes of `recvTarget` granted from the isolate's window growth budget (flow.ts). */
  grown = 0;
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
  /**
   * Aborted once when the stream ends early (cheaper than listening to `signal`). An object, not
   * a callback: see `stream.onFailure` in h2_front.ts.
   */
  onFailure: { abort(reason: Error): void } | null = null;
  #windowWaiter: { resolve: () => void; reject: (err: unknown) => void } | null = null;
  #abort: AbortController | null = null;

  constructor(id: number, host: StreamHost, recvWindow: number, sendWindow: number) {
    this.id = id;
    this.host = host;
    this.recvWindow = recvWindow;
    this.recvTarget = recvWindow;
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
    this.onFailure?.abort(err);
  }
}

/** Part of a pooled buffer holding queued DATA: `buf[start, end)` is not read yet. */
interface Segment {
  readonly buf: Uint8Array;
  start: number;
  end: number;
}

/** A stream's incoming DATA as a BodyReader, with its trailers. */
export class InboundBody implements BodyReader {
  readonly length: number;
  readonly #stream: Stream;
  /** Segments with bytes not read yet; `push` fills the last one. */
  #segments: Segment[] = [];
  /** Full segments whose bytes were all handed out: back to the pool at the next `read()`. */
  #lent: Uint8Array[] = [];
  #buffered = 0;
  /** Bytes handed out since the reader's last `read()`: window to give back at the next. */
  #handed = 0;
  #ended = false;
  #cancelled = false;
  #touched = false;
  /** Some DATA arrived. */
  #received = false;
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
    // A small body (its first DATA and its announced length, when there is one, fit a head
    // buffer) starts in a 4 KiB buffer: 500 small responses in flight from an HTTP/2 upstream
    // held 32 MiB of 64 KiB buffers for 17 bytes each.
    const small = !this.#received && n <= headBuffers.size && this.length <= headBuffers.size;
    this.#received = true;
    this.#buffered += n;
    for (let off = 0; off < n;) {
      let tail = this.#segments[this.#segments.length - 1];
      if (tail === undefined || tail.end === tail.buf.length) {
        tail = { buf: small ? headBuffers.take() : chunkBuffers.take(), start: 0, end: 0 };
        this.#segments.push(tail);
      }
      const k = Math.min(n - off, tail.buf.length - tail.end);
      tail.buf.set(k === n ? data : data.subarray(off, off + k), tail.end);
      tail.end += k;
      off += k;
    }
    if (this.#waiter !== null) {
      const w = this.#waiter;
      this.#waiter = null;
      w.resolve(this.#take()!);
    }
  }

  /** The peer ended the body, with `trailers` or null. */
  end(trailers: HeaderList | null): void {
    this.#ended = true;
    this.#trailers = trailers;
    // No more DATA can come: the connection's window must not wait for a read that may not come.
    this.#giveBack();
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
    this.#release();
    const now = this.readNow();
    if (now !== undefined) return Promise.resolve(now);
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => this.#waiter = { resolve, reject });
  }

  readNow(): Uint8Array | null | undefined {
    this.#touched = true;
    if (this.#failure) throw this.#failure;
    if (this.#cancelled) return null;
    return this.#take() ?? (this.#ended ? null : undefined);
  }

  /**
   * The consumer is done with every chunk it was lent (BodyReader.release): a body it read to the
   * end with `readNow()`, never calling `read()` again, gives its buffers back here.
   */
  release(): void {
    if (this.#cancelled || this.#failure) return;
    this.#release();
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
   * The unread bytes of the first segment, lent (valid until the next `read()`), or undefined
   * when none wait. Only the last segment is still being filled, so a first one that is not the
   * last is full and, once handed out, waits in `#lent` for the reader's next `read()`.
   */
  #take(): Uint8Array | undefined {
    const head = this.#segments[0];
    if (head === undefined || head.start === head.end) return undefined;
    const chunk = head.buf.subarray(head.start, head.end);
    head.start = head.end;
    if (head.end === head.buf.length) {
      this.#segments.shift();
      this.#lent.push(head.buf);
    }
    this.#buffered -= chunk.length;
    this.#handed += chunk.length;
    if (this.#ended) this.#giveBack();
    if (this.#ended && this.#buffered === 0) this.#trailersResolve(this.#trailers);
    return chunk;
  }

  /**
   * The reader is in `read()`: nothing lent before is in use any more (the BodyReader contract).
   * Lent segments go back to the pool, and so does a last segment with nothing left to read, so
   * that a body waiting for DATA holds no buffer.
   */
  #release(): void {
    this.#giveBack();
    for (const buf of this.#lent) giveToEither(buf, headBuffers, chunkBuffers);
    this.#lent.length = 0;
    const only = this.#segments.length === 1 ? this.#segments[0] : undefined;
    if (only !== undefined && only.start === only.end) {
      giveToEither(only.buf, headBuffers, chunkBuffers);
      this.#segments.length = 0;
    }
  }

  /**
   * Forgets unread bytes, giving their window back. The buffers are left to the garbage
   * collector, not the pool: after a failure or a cancel, a lent chunk may still be in a write.
   */
  #dropBuffered(): void {
    this.#handed += this.#buffered;
    this.#segments = [];
    this.#lent = [];
    this.#buffered = 0;
    this.#giveBack();
  }

  /** Gives back the window of the bytes handed out (or dropped). */
  #giveBack(): void {
    if (this.#handed === 0) return;
    const n = this.#handed;
    this.#handed = 0;
    this.#stream.host.consumed(this.#stream, n);
  }
}
