/**
 * Streaming a message (head and body) with as few writes as possible, without delaying data.
 *
 * Fewer writes mean fewer syscalls and TLS records. They also matter for latency where Nagle's
 * algorithm is on: Deno has no setNoDelay for TLS connections, and Gatehouse sets TCP_NODELAY
 * on its TLS listeners only when it may use FFI (proxy/internal/tcp_nodelay.ts); without it a
 * small write that follows another unacknowledged one waits for the peer's delayed ACK (about
 * 40 ms on Linux), and a head, a body and a chunked terminator written separately would cost
 * that on every keep-alive response. So what is ready now
 * (the head, chunks already buffered, the terminator) goes out in one write, and a write is
 * made as soon as the next chunk is not ready, so server-sent events and long polls are never
 * held back. "Ready" is the body's `readNow` when it has one (bytes already buffered: no
 * waiting at all), else a chunk that arrives within the current turn of the event loop.
 */
import type { BodyReader } from "../message.ts";
import { type ByteConn, writeAll } from "../../net/buffered_conn.ts";
import type { WriteWatch } from "../../net/connections.ts";
import { headBuffers, joinBuffers } from "../../net/buffer_pool.ts";
import { chunkSizeLine, CRLF, LAST_CHUNK } from "./body.ts";

/** Coalesced bytes are written once they reach this size. */
const FLUSH_AT = 64 * 1024;

export const NOT_YET = Symbol("not-yet");

/** `p`'s value if it settles within the current macrotask, else NOT_YET. */
export function settledNow<T>(p: Promise<T>): Promise<T | typeof NOT_YET> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const later = new Promise<typeof NOT_YET>((resolve) => {
    timer = setTimeout(resolve, 0, NOT_YET);
  });
  return Promise.race([p, later]).finally(() => clearTimeout(timer));
}

export interface StreamOptions {
  /** Bytes that go before the body (a message head), written with the first chunk. */
  readonly prefix: Uint8Array;
  /** Frame each chunk as HTTP/1.1 chunked encoding, and end with the last chunk. */
  readonly chunked: boolean;
  /**
   * With `chunked`: the terminator when the body carries trailers, known only once the body has
   * ended (without it, the last chunk and an empty trailer section).
   */
  readonly lastChunk?: () => Promise<Uint8Array>;
  /** Called after each write with the number of body bytes it carried. */
  readonly onWrite?: (bodyBytes: number) => void;
  /** Told of each write, to bound how long it may wait on the peer (a client taking no bytes). */
  readonly watch?: WriteWatch;
}

/** What was streamed: body bytes read, bytes written (framing included). */
export interface Streamed {
  readonly body: number;
  readonly wire: number;
}

/** A failure of the body (the source), as opposed to a failure writing to the connection. */
export class BodyFailure extends Error {
  constructor(readonly reason: unknown) {
    super(reason instanceof Error ? reason.message : String(reason));
  }
}

/**
 * Writes prefix, body (framed) and, when chunked, the last chunk to `conn`. Rejects with
 * BodyFailure when reading the body fails and with the connection's error when writing fails
 * (the body is then cancelled).
 *
 * Body chunks are lent (proto/message.ts): those waiting to be joined are written before the
 * next `read()`, except for bodies without `readNow`, whose next chunk is awaited for a moment to
 * join it: their waiting bytes are copied first. A lone chunk, or chunks adjacent in one buffer,
 * are written as they are; other parts are joined into a pooled buffer (net/buffer_pool.ts).
 */
export async function streamBody(
  conn: ByteConn,
  body: BodyReader,
  opts: StreamOptions,
): Promise<Streamed> {
  const out = new Joiner(conn, body, opts.onWrite, opts.watch);
  out.add(opts.prefix, 0, false);
  const read = () => body.read().catch((err) => Promise.reject(new BodyFailure(err)));
  const readNow = () => {
    try {
      return body.readNow?.();
    } catch (err) {
      throw new BodyFailure(err);
    }
  };
  let total = 0;
  try {
    while (true) {
      let chunk = readNow();
      if (chunk === undefined) {
        if (out.bytes > 0 && body.readNow !== undefined) await out.flush();
        if (out.bytes === 0) chunk = await read();
        else {
          // No readNow: the next chunk may follow within this turn; join it if it does.
          out.own();
          const next = read();
          const now = await settledNow(next);
          if (now === NOT_YET) {
            try {
              await out.flush();
            } catch (err) {
              // The client is gone and the body cancelled: the read under way fails too, and
              // nobody awaits it any more (an unhandled rejection would end the process).
              next.catch(() => {});
              throw err;
            }
            chunk = await next;
          } else chunk = now;
        }
      }
      if (chunk === null) break;
      if (chunk.length === 0) continue;
      total += chunk.length;
      if (opts.chunked) {
        const line = chunkSizeLine(chunk.length);
        await out.room(line.length + chunk.length + 2);
        out.add(line, 0, false);
        out.add(chunk, chunk.length, true);
        out.add(CRLF, 0, false);
      } else {
        await out.room(chunk.length);
        out.add(chunk, chunk.length, true);
      }
      if (out.bytes >= FLUSH_AT) await out.flush();
    }
    if (opts.chunked && opts.lastChunk !== undefined) {
      // Lent chunks may wait in `out`: own them before waiting for the trailers.
      out.own();
      out.add(await opts.lastChunk(), 0, false);
    } else if (opts.chunked) out.add(LAST_CHUNK, 0, false);
    await out.flush();
    // Everything lent is written.
    body.release?.();
  } finally {
    out.release();
  }
  return { body: total, wire: out.wire };
}

/** The parts of the next write: joined in a pooled buffer when there are several. */
class Joiner {
  readonly #conn: ByteConn;
  readonly #body: BodyReader;
  readonly #onWrite: ((bodyBytes: number) => void) | undefined;
  readonly #watch: WriteWatch | undefined;
  #parts: Uint8Array[] = [];
  /** Whether a part is a lent body chunk (must be written or copied before the next read). */
  #lent = false;
  #scratch: Uint8Array | null = null;
  /** The pooled buffer of small joins (a head and a short body). */
  #small: Uint8Array | null = null;
  /** Bytes in `#parts`. */
  bytes = 0;
  /** Body bytes in `#parts`. */
  #bodyBytes = 0;
  /** Bytes written so far. */
  wire = 0;

  constructor(
    conn: ByteConn,
    body: BodyReader,
    onWrite?: (bodyBytes: number) => void,
    watch?: WriteWatch,
  ) {
    this.#conn = conn;
    this.#body = body;
    this.#onWrite = onWrite;
    this.#watch = watch;
  }

  /**
   * Queues `part`. One that continues the last part in the same buffer (an HTTP/2 body's frames,
   * queued end to end) extends it instead: written as one view, not copied into a join.
   */
  add(part: Uint8Array, bodyBytes: number, lent: boolean): void {
    if (part.length === 0) return;
    const last = this.#parts[this.#parts.length - 1];
    if (
      last !== undefined && last.buffer === part.buffer &&
      last.byteOffset + last.length === part.byteOffset
    ) {
      this.#parts[this.#parts.length - 1] = new Uint8Array(
        last.buffer,
        last.byteOffset,
        last.length + part.length,
      );
    } else this.#parts.push(part);
    this.bytes += part.length;
    this.#bodyBytes += bodyBytes;
    this.#lent ||= lent;
  }

  /** Writes what waits when `next` more bytes would not fit into one joined write. */
  async room(next: number): Promise<void> {
    if (this.bytes > 0 && this.bytes + next > joinBuffers.size) await this.flush();
  }

  /** Copies lent parts into a buffer of our own (the body may reuse theirs at its next read). */
  own(): void {
    if (!this.#lent) return;
    const joined = this.#join();
    this.#parts = [joined];
    this.#lent = false;
  }

  async flush(): Promise<void> {
    if (this.bytes === 0) return;
    const out = this.#parts.length === 1 ? this.#parts[0] : this.#join();
    const carried = this.#bodyBytes;
    this.#parts = [];
    this.bytes = 0;
    this.#bodyBytes = 0;
    this.#lent = false;
    try {
      await writeAll(this.#conn, out, this.#watch);
    } catch (err) {
      this.#body.cancel(err);
      throw err;
    }
    this.wire += out.length;
    this.#onWrite?.(carried);
    // Written: the pooled buffers are free. A body whose upstream stops reading holds its next
    // write's buffer only, not a join buffer it used once (72 KiB per stalled upload).
    this.release();
  }

  /** Gives the pooled buffers back (after a write, or when streaming ends). */
  release(): void {
    if (this.#scratch !== null) joinBuffers.give(this.#scratch);
    if (this.#small !== null) headBuffers.give(this.#small);
    this.#scratch = this.#small = null;
  }

  /**
   * The parts joined, in a pooled buffer when they fit (a small one for a head and a short body;
   * after what `own` put there already, which is then the first part), else in a new one.
   */
  #join(): Uint8Array {
    const size = this.bytes;
    const parts = this.#parts;
    let buf: Uint8Array;
    let first = 0;
    let off = 0;
    if (size <= headBuffers.size && this.#scratch === null) {
      buf = this.#small ??= headBuffers.take();
    } else if (size <= joinBuffers.size) buf = this.#scratch ??= joinBuffers.take();
    else buf = new Uint8Array(size);
    if (parts[0].buffer === buf.buffer && parts[0].byteOffset === buf.byteOffset) {
      first = 1;
      off = parts[0].length;
    }
    for (let i = first; i < parts.length; i++) {
      buf.set(parts[i], off);
      off += parts[i].length;
    }
    return buf.subarray(0, size);
  }
}
