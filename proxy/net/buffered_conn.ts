/**
 * A connection with a read buffer, for the HTTP/1.1 parser on both sides of the proxy.
 *
 * At most one read is in flight at a time. The buffer is moved or grown only between reads, so a
 * view returned by `readHead` stays valid until the next call that reads.
 *
 * Body bytes are lent, not copied (the BodyReader contract, proto/message.ts): `take` and
 * `readSome` return views into the connection's own buffer, or into a 64 KiB buffer from
 * net/buffer_pool.ts that the connection holds only while a body streams (its last large read
 * filled it; once a read comes back short, the next goes into the small own buffer instead, so
 * a slow or idle body pins no large buffer). The body reader calls `reclaim` when its consumer is done with what it
 * lent (at its next read) and `endBody` when the body ends. A body that ends while its last
 * chunks may still be in use (the consumer learnt the end from `readNow` before writing them)
 * leaves that memory alone: the large buffer leaves the connection (its body reader gives it
 * back to the pool when the consumer releases it), and the own buffer is replaced before its
 * used part could be written over (the connection may carry the next message at once, e.g.
 * back in its pool). A small body's last bytes are copied instead of lent (h1/body.ts), so the
 * own buffer stays in use.
 */

import { type DirectRead, directRead } from "../internal/direct_read.ts";
import { latin1 } from "../bytes.ts";
import { CHUNK_SIZE, chunkBuffers } from "./buffer_pool.ts";
import { armWrite, disarmWrite, type WriteWatch } from "./connections.ts";

/** The request or response head exceeded the allowed size. */
export class HeadTooLargeError extends Error {
  constructor(limit: number) {
    super(`Cannot read message head: larger than ${limit} bytes`);
  }
}

/**
 * A CR not followed by LF in a message head (CR-only line ends among them): a parser that took
 * it for a line end would see other fields than one that did not (RFC 9112 2.2).
 */
export class BareCrError extends Error {
  /** What a server answers; an upstream's response with one is a protocol error. */
  readonly status = 400;
  constructor() {
    super("Cannot read message head: CR not followed by LF");
  }
}

/** The peer closed the connection in the middle of a message. */
export class UnexpectedEofError extends Error {
  constructor(what: string) {
    super(`Cannot read ${what}: connection closed early`);
  }
}

/** The part of a connection the HTTP engine uses; Deno.Conn and Deno.TlsConn satisfy it. */
export interface ByteConn {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  /** Half-close: sends FIN (or TLS close_notify) and keeps reading. */
  closeWrite(): Promise<void>;
  close(): void;
}

const LF = 10;
const CR = 13;
/** Largest chunk a body read returns. */
export const READ_CHUNK = CHUNK_SIZE;

export class BufferedConn {
  readonly conn: ByteConn;
  /** Deno's read op for its own connections (internal/direct_read.ts); null for any other. */
  readonly #direct: DirectRead | null;
  #buf: Uint8Array;
  #start = 0;
  #end = 0;
  #pending: Promise<boolean> | null = null;
  #eof = false;
  /** Views of #buf lent since the last `reclaim`. */
  #lent = false;
  /** #buf holds views a finished body's consumer may still use: never move bytes within it. */
  #shared = false;
  /** The pooled buffer of direct body reads, held while a body streams. */
  #chunk: Uint8Array | null = null;
  #chunkLent = false;
  /** The last body read filled the buffer it read into: the next one goes to `#chunk`. */
  #streaming = false;

  constructor(conn: ByteConn, initialSize = 4096) {
    this.conn = conn;
    this.#direct = directRead(conn);
    this.#buf = new Uint8Array(initialSize);
  }

  /** Bytes received and not yet consumed. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** True once the peer's side reached end of stream (or the read failed). */
  get eof(): boolean {
    return this.#eof;
  }

  /** Reads more bytes into the buffer, growing it up to `limit`. Resolves false at end of stream. */
  fill(limit = READ_CHUNK): Promise<boolean> {
    if (this.#pending) return this.#pending;
    if (this.#eof) return Promise.resolve(false);
    this.#makeRoom(limit);
    const p = this.#readInto(this.#buf.subarray(this.#end)).then(
      (n) => {
        this.#pending = null;
        if (n === null || n === 0) {
          this.#eof = true;
          return false;
        }
        this.#end += n;
        return true;
      },
      () => {
        this.#pending = null;
        this.#eof = true;
        return false;
      },
    );
    this.#pending = p;
    return p;
  }

  /**
   * Resolves false when the peer closes before sending anything more (used to notice a client
   * that goes away while its response is being prepared); true once bytes are available.
   */
  watchForData(): Promise<boolean> {
    if (this.buffered > 0) return Promise.resolve(true);
    return this.fill();
  }

  /**
   * Reads one message head (start line and fields, without the blank line that ends it).
   * Leading blank lines are skipped. Returns null when the stream ends before any byte. Throws
   * BareCrError as soon as a CR not followed by LF arrives, without waiting for the head's end.
   */
  async readHead(limit: number): Promise<Uint8Array | null> {
    let head = this.headNow(limit);
    while (head === undefined) {
      const scanned = this.#end - this.#start;
      if (!(await this.fill(limit + 4))) {
        if (scanned === 0) return null;
        throw new UnexpectedEofError("message head");
      }
      head = this.headNow(limit, scanned);
    }
    return head;
  }

  /**
   * Drops the blank lines that may precede a message head (RFC 9112 2.2) from the buffer; the
   * bytes left buffered: more than 0 once a head has begun.
   */
  skipBlankLines(): number {
    this.#skipLeadingBlankLines();
    return this.#end - this.#start;
  }

  /**
   * The next message head when the buffer already holds all of it (consumed, as `readHead`
   * returns it), else undefined: then `readHead`. Without an await, so a head that came in
   * with the read before costs no promise. `scanned`: buffered bytes already searched in vain.
   * Throws as `readHead` does.
   */
  headNow(limit: number, scanned = 0): Uint8Array | undefined {
    this.#skipLeadingBlankLines();
    const avail = this.#end - this.#start;
    const from = this.#start + Math.max(0, scanned - 3);
    const end = findHeadEnd(this.#buf, from, this.#end);
    if (hasBareCr(this.#buf, from, end >= 0 ? end : this.#end)) throw new BareCrError();
    if (end >= 0) {
      // One read may bring in more than `limit` bytes, a complete head among them.
      if (end - this.#start > limit) throw new HeadTooLargeError(limit);
      const head = this.#buf.subarray(this.#start, end);
      this.#start = end + (this.#buf[end + 1] === LF ? 2 : 3);
      return head;
    }
    if (avail >= limit) throw new HeadTooLargeError(limit);
    return undefined;
  }

  /**
   * One buffered line (for chunked framing) up to its LF, the CR before it kept (the caller
   * decides whether a bare LF ends a line), or undefined when the buffer holds no complete line
   * yet (read more with `fill`).
   */
  lineNow(limit: number): string | undefined {
    // Searched up to what a line may span, not to the end of the (pooled, 64 KiB) buffer: what
    // lies past the buffered bytes is stale.
    const buf = this.#buf;
    const to = Math.min(this.#end, this.#start + limit + 1);
    let lf = -1;
    for (let i = this.#start; i < to; i++) {
      if (buf[i] === LF) {
        lf = i;
        break;
      }
    }
    if (lf >= 0) {
      const line = latin1(this.#buf, this.#start, lf);
      this.#start = lf + 1;
      return line;
    }
    if (this.#end - this.#start >= limit) throw new HeadTooLargeError(limit);
    return undefined;
  }

  /**
   * Consumes up to `max` bytes (lent, see the class doc): buffered ones first, else one read,
   * into the pooled buffer while the body streams, else into the own buffer. Null at end of
   * stream.
   */
  async readSome(max: number): Promise<Uint8Array | null> {
    if (this.#end === this.#start && this.#pending) await this.#pending;
    const avail = this.#end - this.#start;
    if (avail > 0) return this.take(Math.min(avail, max));
    if (this.#eof) return null;
    if (!this.#streaming) {
      this.#releaseChunk();
      if (!this.#lent && !this.#shared) this.#start = this.#end = 0;
      const room = this.#buf.length - this.#end;
      if (!(await this.fill())) return null;
      const got = this.#end - this.#start;
      this.#streaming = got >= room;
      return this.take(Math.min(got, max));
    }
    const chunk = this.#chunk ??= chunkBuffers.take();
    const want = Math.min(max, chunk.length);
    let n: number | null;
    try {
      n = await this.#readInto(chunk.subarray(0, want));
    } catch (err) {
      this.#eof = true;
      throw err;
    }
    if (n === null || n === 0) {
      this.#eof = true;
      return null;
    }
    this.#streaming = n === want;
    this.#chunkLent = true;
    return chunk.subarray(0, n);
  }

  /** The bytes received and not yet consumed, as a view (valid until the next read). */
  peek(): Uint8Array {
    return this.#buf.subarray(this.#start, this.#end);
  }

  /** Consumes `n` buffered bytes (n <= buffered), lent as a view of the buffer. */
  take(n: number): Uint8Array {
    const out = this.#buf.subarray(this.#start, this.#start + n);
    this.#start += n;
    this.#lent = true;
    return out;
  }

  /**
   * Consumes `n` buffered bytes (n <= buffered) as a copy, lending nothing: for the last bytes of
   * a small body, so that its end leaves the buffer free to be reused (`endBody`).
   */
  takeCopy(n: number): Uint8Array {
    const out = this.#buf.slice(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }

  /** True when views lent since the last `reclaim` may still be in use. */
  get lending(): boolean {
    return this.#lent;
  }

  /** Everything lent so far is no longer in use (a body's consumer asks for the next chunk). */
  reclaim(): void {
    this.#lent = false;
    this.#chunkLent = false;
  }

  /**
   * A body ended (or was given up): gives the pooled buffer back, or, when what was lent last
   * may still be in use, keeps the own buffer's bytes in place and lets the pooled buffer go.
   * Returns that pooled buffer (else null): the body's reader gives it back to the pool once its
   * consumer says it is done with it (`BodyReader.release`).
   */
  endBody(): Uint8Array | null {
    if (this.#lent) this.#shared = true;
    this.#lent = false;
    let inUse: Uint8Array | null = null;
    if (this.#chunkLent) {
      inUse = this.#chunk;
      this.#chunk = null;
    }
    this.#chunkLent = false;
    this.#releaseChunk();
    this.#streaming = false;
    return inUse;
  }

  /** Hands out everything buffered (a copy), for a tunnel that takes the connection over. */
  drainBuffer(): Uint8Array {
    const out = this.#buf.slice(this.#start, this.#end);
    this.#start = this.#end;
    return out;
  }

  /** Writes all of `bytes`. */
  write(bytes: Uint8Array): Promise<void> {
    return writeAll(this.conn, bytes);
  }

  /** Shrinks a buffer grown past `above` back to `size` when it holds nothing. */
  shrink(above: number, size: number): void {
    if (this.#buf.length > above && this.#end === this.#start && !this.#pending) {
      this.#buf = new Uint8Array(size);
      this.#start = this.#end = 0;
      this.#lent = this.#shared = false;
    }
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }

  /** One read into `view` (not empty): the bytes read; 0 or null at end of stream. */
  #readInto(view: Uint8Array): Promise<number | null> {
    return this.#direct === null ? this.conn.read(view) : this.#direct(view);
  }

  /** Gives the pooled buffer back when nothing lent from it is in use. */
  #releaseChunk(): void {
    if (this.#chunk === null || this.#chunkLent) return;
    chunkBuffers.give(this.#chunk);
    this.#chunk = null;
  }

  /** Skips CRLF and LF lines before a head (RFC 9112 2.2); a CR alone is left to fail. */
  #skipLeadingBlankLines(): void {
    while (this.#start < this.#end) {
      const b = this.#buf[this.#start];
      if (b === LF) this.#start++;
      else if (b === CR && this.#buf[this.#start + 1] === LF && this.#start + 1 < this.#end) {
        this.#start += 2;
      } else return;
    }
  }

  #makeRoom(limit: number): void {
    if (this.#end < this.#buf.length) return;
    const used = this.#end - this.#start;
    if (this.#start > 0 && used < this.#buf.length / 2) {
      if (this.#lent || this.#shared) {
        // Lent views point into the used part: leave them that buffer.
        const fresh = new Uint8Array(this.#buf.length);
        fresh.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = fresh;
        this.#lent = this.#shared = false;
      } else this.#buf.copyWithin(0, this.#start, this.#end);
    } else {
      // Doubling: a head a little over the buffer costs one more read, not a 32 KiB buffer.
      const grown = new Uint8Array(Math.max(this.#buf.length * 2, Math.min(limit, 1024)));
      grown.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = grown;
      this.#lent = this.#shared = false;
    }
    this.#start = 0;
    this.#end = used;
  }
}

/**
 * Writes all of `bytes` (a single write may take only part of them), telling `watch` of each
 * write: every partial write is progress (the peer took bytes), so the bound restarts with the
 * next one.
 */
export async function writeAll(
  conn: Pick<ByteConn, "write">,
  bytes: Uint8Array,
  watch?: WriteWatch,
): Promise<void> {
  try {
    for (let off = 0; off < bytes.length;) {
      armWrite(watch);
      off += await conn.write(off === 0 ? bytes : bytes.subarray(off));
    }
  } finally {
    disarmWrite(watch);
  }
}

/**
 * Index of the line feed that starts the blank line ending a head ("\n\r\n" or "\n\n"), searching
 * [from, to); -1 if not there yet. Bare LF line endings are accepted, as RFC 9112 2.2 allows.
 */
export function findHeadEnd(buf: Uint8Array, from: number, to: number): number {
  // Searched within [0, to) only: the rest of a large read buffer is not scanned for nothing.
  const seen = buf.subarray(0, to);
  for (let i = seen.indexOf(LF, from); i >= 0; i = seen.indexOf(LF, i + 1)) {
    const next = buf[i + 1];
    if (i + 1 < to && next === LF) return i;
    if (i + 2 < to && next === CR && buf[i + 2] === LF) return i;
  }
  return -1;
}

/**
 * True when [from, to) holds a CR whose next byte is not LF. A CR at `to - 1` is judged only once
 * its next byte arrived (it may be the CR of a CRLF split across reads), except when `to` is the
 * end of a complete head, where the byte after it is known.
 */
function hasBareCr(buf: Uint8Array, from: number, to: number): boolean {
  const seen = buf.subarray(0, to);
  for (let i = seen.indexOf(CR, from); i >= 0; i = seen.indexOf(CR, i + 1)) {
    if (i + 1 < to && buf[i + 1] !== LF) return true;
  }
  return false;
}
