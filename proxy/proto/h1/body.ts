/**
 * Body readers for HTTP/1.1 framing (length, chunked, until close) and chunked framing. A chunked
 * body's trailer section is parsed and kept (`trailersOf`), validated like fields.
 *
 * The chunks are views into the connection's buffers, lent until the next `read()` (the
 * BodyReader contract, proto/message.ts; buffered_conn.ts says how the buffers are reused).
 */
import { HeaderList, trimOws } from "../header_list.ts";
import type { BodyReader, TrailerSource } from "../message.ts";
import { type BufferedConn, READ_CHUNK, UnexpectedEofError } from "../../net/buffered_conn.ts";
import { chunkBuffers } from "../../net/buffer_pool.ts";
import { type Framing, HttpParseError } from "./parse.ts";

/** Called once when a body reader finishes: `clean` is true when the body ended as framed. */
export type BodyDone = (clean: boolean) => void;

const MAX_CHUNK_LINE = 4096;
const MAX_TRAILERS = 16 * 1024;
/**
 * A body's last bytes, when they are this few and nothing else of it is still lent, are copied
 * instead of lent: a lent view at the end of a body leaves the connection's buffer shared, and the
 * next message that needs room then gets a new buffer (buffered_conn.ts) while the old one, long
 * lived, waits in the old generation for a full collection. Under `h2load -c50 -m10` that was a
 * 4 KiB buffer every ~30 responses, and 50 MiB of garbage outside V8's heap after 16 s.
 */
const COPY_LAST = 4096;
/** Significant hex digits of a chunk size, at most (12: 256 TiB). */
const MAX_CHUNK_DIGITS = 12;

const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const QUOTED = '"(?:[\\t !#-\\[\\]-~\\x80-\\xff]|\\\\[\\t -~\\x80-\\xff])*"';
/** chunk-size [ chunk-ext ] (RFC 9112 7.1, 7.1.1): BWS is SP and HTAB only, names are tokens. */
const CHUNK_LINE = new RegExp(
  `^([0-9A-Fa-f]+)(?:[ \\t]*;[ \\t]*${TOKEN}(?:[ \\t]*=[ \\t]*(?:${TOKEN}|${QUOTED}))?)*$`,
);
/** A trailer field line: token ":" then SP, HTAB, visible characters and obs-text only. */
const FIELD_LINE = new RegExp(`^${TOKEN}:[\\t\\x20-\\x7e\\x80-\\xff]*$`);

/** Reads a body framed as `framing` from `io`; null when there is no body. */
export function bodyReader(io: BufferedConn, framing: Framing, done: BodyDone): BodyReader | null {
  switch (framing.kind) {
    case "none":
      done(true);
      return null;
    case "length":
      return new LengthBody(io, framing.length, done);
    case "chunked":
      return new ChunkedBody(io, done);
    case "close":
      return new CloseDelimitedBody(io, done);
  }
}

abstract class FramedBody implements BodyReader {
  abstract readonly length: number;
  protected readonly io: BufferedConn;
  #done: BodyDone | null;
  #failure: unknown = null;
  /** The pooled buffer the last chunk was lent from, until the consumer releases it. */
  #lastBuffer: Uint8Array | null = null;
  /** True once the body ended, failed or was cancelled. */
  protected finished = false;

  constructor(io: BufferedConn, done: BodyDone) {
    this.io = io;
    this.#done = done;
  }

  async read(): Promise<Uint8Array | null> {
    if (this.#failure) throw this.#failure;
    if (this.#done === null) return null;
    // The consumer is done with the chunks lent so far (BodyReader contract).
    this.io.reclaim();
    try {
      let chunk = this.nextNow();
      while (chunk === undefined) chunk = (await this.nextAfterIo()) ?? this.nextNow();
      if (chunk === null) this.#finish(true);
      return chunk;
    } catch (err) {
      this.#fail(err);
      throw err;
    }
  }

  readNow(): Uint8Array | null | undefined {
    if (this.#failure) throw this.#failure;
    if (this.#done === null) return null;
    try {
      const chunk = this.nextNow();
      if (chunk === null) this.#finish(true);
      return chunk;
    } catch (err) {
      this.#fail(err);
      throw err;
    }
  }

  cancel(reason?: unknown): void {
    if (this.#done === null) return;
    this.#failure = reason ?? new Error("body cancelled");
    this.#finish(false);
  }

  release(): void {
    if (this.#lastBuffer === null) return;
    chunkBuffers.give(this.#lastBuffer);
    this.#lastBuffer = null;
  }

  /** The next chunk from buffered bytes, null at the end, undefined when I/O is needed. */
  protected abstract nextNow(): Uint8Array | null | undefined;

  /** Does the I/O `nextNow` needed; may return undefined to say "look at the buffer again". */
  protected abstract nextAfterIo(): Promise<Uint8Array | null | undefined>;

  /** Reads more into the buffer, failing when the peer ends the stream in the middle. */
  protected async more(limit: number, what: string): Promise<undefined> {
    if (!(await this.io.fill(limit))) throw new UnexpectedEofError(what);
    return undefined;
  }

  #fail(err: unknown): void {
    this.#failure = err;
    this.#finish(false);
  }

  #finish(clean: boolean): void {
    const done = this.#done;
    if (done === null) return;
    this.#done = null;
    this.finished = true;
    this.#lastBuffer = this.io.endBody();
    this.onFinished();
    done(clean);
  }

  /** Called once when the body ended, failed or was cancelled. */
  protected onFinished(): void {}
}

class LengthBody extends FramedBody {
  readonly length: number;
  #remaining: number;

  constructor(io: BufferedConn, length: number, done: BodyDone) {
    super(io, done);
    this.length = length;
    this.#remaining = length;
  }

  protected nextNow(): Uint8Array | null | undefined {
    if (this.#remaining === 0) return null;
    const buffered = this.io.buffered;
    if (buffered === 0) return undefined;
    const n = Math.min(buffered, this.#remaining);
    const chunk = n === this.#remaining && n <= COPY_LAST && !this.io.lending
      ? this.io.takeCopy(n)
      : this.io.take(n);
    this.#remaining -= n;
    return chunk;
  }

  protected async nextAfterIo(): Promise<Uint8Array | null | undefined> {
    // A small rest is read into the buffer and taken by nextNow (copied if it is the end).
    if (this.#remaining <= COPY_LAST) return await this.more(this.#remaining, "body");
    const chunk = await this.io.readSome(Math.min(this.#remaining, READ_CHUNK));
    if (chunk === null) throw new UnexpectedEofError("body");
    this.#remaining -= chunk.length;
    return chunk;
  }
}

/** Where a chunked body's parser stands. */
type ChunkState = "size" | "data" | "data-end" | "trailers" | "ended";

class ChunkedBody extends FramedBody {
  readonly length = -1;
  #state: ChunkState = "size";
  #inChunk = 0;
  #trailerBytes = 0;
  #trailers: HeaderList | null = null;
  #trailersDone: Promise<HeaderList | null> | null = null;
  #settle: ((t: HeaderList | null) => void) | null = null;

  /** The trailer section once the body has ended (null without one, or when it failed). */
  trailerSection(): Promise<HeaderList | null> {
    if (this.#trailersDone === null) {
      if (this.#state === "ended") return this.#trailersDone = Promise.resolve(this.#trailers);
      this.#trailersDone = new Promise((resolve) => this.#settle = resolve);
      if (this.finished) this.#settle!(null);
    }
    return this.#trailersDone;
  }

  protected override onFinished(): void {
    this.#settle?.(this.#state === "ended" ? this.#trailers : null);
    this.#settle = null;
  }

  protected nextNow(): Uint8Array | null | undefined {
    while (true) {
      switch (this.#state) {
        case "ended":
          return null;
        case "data": {
          const buffered = this.io.buffered;
          if (buffered === 0) return undefined;
          const n = Math.min(buffered, this.#inChunk);
          const last = n === this.#inChunk && n <= COPY_LAST && !this.io.lending &&
            endsBody(this.io.peek(), n);
          return this.#data(last ? this.io.takeCopy(n) : this.io.take(n));
        }
        case "size": {
          const line = chunkLine(this.io.lineNow(MAX_CHUNK_LINE));
          if (line === undefined) return undefined;
          this.#inChunk = chunkSize(line);
          this.#state = this.#inChunk === 0 ? "trailers" : "data";
          break;
        }
        case "data-end": {
          const line = chunkLine(this.io.lineNow(MAX_CHUNK_LINE));
          if (line === undefined) return undefined;
          if (line !== "") throw chunkError("chunk data not followed by CRLF");
          this.#state = "size";
          break;
        }
        case "trailers": {
          const line = chunkLine(this.io.lineNow(MAX_TRAILERS));
          if (line === undefined) return undefined;
          if (line === "") {
            this.#state = "ended";
            break;
          }
          if (!FIELD_LINE.test(line)) throw chunkError("malformed trailer field");
          this.#trailerBytes += line.length + 2;
          if (this.#trailerBytes > MAX_TRAILERS) throw chunkError("trailers too large");
          const colon = line.indexOf(":");
          (this.#trailers ??= new HeaderList()).append(
            line.slice(0, colon),
            trimOws(line.slice(colon + 1)),
          );
        }
      }
    }
  }

  protected async nextAfterIo(): Promise<Uint8Array | undefined> {
    if (this.#state !== "data") return await this.more(MAX_TRAILERS + 2, "chunked body");
    const chunk = await this.io.readSome(Math.min(this.#inChunk, READ_CHUNK));
    if (chunk === null) throw new UnexpectedEofError("chunked body");
    return this.#data(chunk);
  }

  #data(chunk: Uint8Array): Uint8Array {
    this.#inChunk -= chunk.length;
    if (this.#inChunk === 0) this.#state = "data-end";
    return chunk;
  }
}

/** What ends the last chunk's data when no trailers follow: CRLF, the last chunk, CRLF. */
const BODY_END = [13, 10, 48, 13, 10, 13, 10];

/** True when `buffered` holds, at `at`, the end of a chunked body without trailers. */
function endsBody(buffered: Uint8Array, at: number): boolean {
  if (buffered.length < at + BODY_END.length) return false;
  for (let i = 0; i < BODY_END.length; i++) if (buffered[at + i] !== BODY_END[i]) return false;
  return true;
}

/**
 * The size a chunk-size line announces. A line of hex digits alone (what nearly every sender
 * writes) is read without the extension grammar's regular expression.
 */
function chunkSize(line: string): number {
  let end = 0;
  let first = -1;
  for (; end < line.length; end++) {
    const c = line.charCodeAt(end);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102))) break;
    if (first < 0 && c !== 48) first = end;
  }
  let size: string | undefined;
  if (end > 0 && end === line.length) size = first < 0 ? "0" : line.slice(first);
  else size = CHUNK_LINE.exec(line)?.[1].replace(/^0+(?=.)/, "");
  if (size === undefined) throw chunkError("malformed chunk size line");
  if (size.length > MAX_CHUNK_DIGITS) throw chunkError("chunk size too large");
  return parseInt(size, 16);
}

/** The trailers of a body read by `bodyReader`: a chunked body has some, other framings none. */
export function trailersOf(body: BodyReader | null): TrailerSource | null {
  return body instanceof ChunkedBody ? () => body.trailerSection() : null;
}

/**
 * A chunked-framing line without its line end. A bare LF ends a line too, as in heads (RFC 9112
 * 2.2): Gatehouse frames what it forwards itself, so its reading cannot disagree with an
 * upstream's. Any other CR fails the line's own grammar.
 */
function chunkLine(line: string | undefined): string | undefined {
  if (line === undefined || line.charCodeAt(line.length - 1) !== 13) return line;
  return line.slice(0, -1);
}

function chunkError(message: string): HttpParseError {
  return new HttpParseError(400, "bad_chunk", message);
}

class CloseDelimitedBody extends FramedBody {
  readonly length = -1;

  protected nextNow(): Uint8Array | null | undefined {
    const buffered = this.io.buffered;
    if (buffered > 0) return this.io.take(buffered);
    return this.io.eof ? null : undefined;
  }

  protected nextAfterIo(): Promise<Uint8Array | null> {
    return this.io.readSome(READ_CHUNK);
  }
}

export const CRLF = new Uint8Array([13, 10]);
/** The last chunk and an empty trailer section. */
export const LAST_CHUNK = new Uint8Array([48, 13, 10, 13, 10]);

/** The size line of a chunk of `size` bytes ("<hex>\r\n"). */
export function chunkSizeLine(size: number): Uint8Array {
  const hex = size.toString(16);
  const out = new Uint8Array(hex.length + 2);
  for (let i = 0; i < hex.length; i++) out[i] = hex.charCodeAt(i);
  out[hex.length] = 13;
  out[hex.length + 1] = 10;
  return out;
}

/**
 * The last chunk with `trailers` (none when null or empty): what ends a chunked body that carries
 * trailers.
 */
export async function lastChunk(trailers: TrailerSource): Promise<Uint8Array> {
  const list = await trailers();
  if (list === null || list.size === 0) return LAST_CHUNK;
  let text = "0\r\n";
  const { names, values } = list;
  for (let i = 0; i < names.length; i++) text += names[i] + ": " + values[i] + "\r\n";
  text += "\r\n";
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}
