/**
 * Body readers for HTTP/1.1 framing (length, chunked, until close) and the chunked encoder.
 */
import type { BodyReader } from "../message.ts";
import { type BufferedConn, READ_CHUNK, UnexpectedEofError } from "../../net/buffered_conn.ts";
import { type Framing, HttpParseError } from "./parse.ts";

/** Called once when a body reader finishes: `clean` is true when the body ended as framed. */
export type BodyDone = (clean: boolean) => void;

const MAX_CHUNK_LINE = 4096;
const MAX_TRAILERS = 16 * 1024;

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

  constructor(io: BufferedConn, done: BodyDone) {
    this.io = io;
    this.#done = done;
  }

  async read(): Promise<Uint8Array | null> {
    if (this.#failure) throw this.#failure;
    if (this.#done === null) return null;
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
    this.#done = null;
    done?.(clean);
  }
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
    const chunk = this.io.take(Math.min(buffered, this.#remaining));
    this.#remaining -= chunk.length;
    return chunk;
  }

  protected async nextAfterIo(): Promise<Uint8Array | null> {
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

  protected nextNow(): Uint8Array | null | undefined {
    while (true) {
      switch (this.#state) {
        case "ended":
          return null;
        case "data": {
          const buffered = this.io.buffered;
          if (buffered === 0) return undefined;
          return this.#data(this.io.take(Math.min(buffered, this.#inChunk)));
        }
        case "size": {
          const line = this.io.lineNow(MAX_CHUNK_LINE);
          if (line === undefined) return undefined;
          const semi = line.indexOf(";");
          const hex = (semi < 0 ? line : line.slice(0, semi)).trim();
          if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) {
            throw new HttpParseError(400, "malformed chunk size");
          }
          this.#inChunk = parseInt(hex, 16);
          this.#state = this.#inChunk === 0 ? "trailers" : "data";
          break;
        }
        case "data-end": {
          const line = this.io.lineNow(MAX_CHUNK_LINE);
          if (line === undefined) return undefined;
          if (line !== "") throw new HttpParseError(400, "malformed chunk end");
          this.#state = "size";
          break;
        }
        case "trailers": {
          const line = this.io.lineNow(MAX_TRAILERS);
          if (line === undefined) return undefined;
          if (line === "") {
            this.#state = "ended";
            break;
          }
          this.#trailerBytes += line.length + 2;
          if (this.#trailerBytes > MAX_TRAILERS) {
            throw new HttpParseError(400, "trailers too large");
          }
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

const CRLF = new Uint8Array([13, 10]);
/** The last chunk and an empty trailer section. */
export const LAST_CHUNK = new Uint8Array([48, 13, 10, 13, 10]);

/** One chunk of a chunked body, framing included, as a single buffer (one write per chunk). */
export function encodeChunk(data: Uint8Array): Uint8Array {
  const size = data.length.toString(16);
  const out = new Uint8Array(size.length + 2 + data.length + 2);
  for (let i = 0; i < size.length; i++) out[i] = size.charCodeAt(i);
  out[size.length] = 13;
  out[size.length + 1] = 10;
  out.set(data, size.length + 2);
  out.set(CRLF, size.length + 2 + data.length);
  return out;
}
