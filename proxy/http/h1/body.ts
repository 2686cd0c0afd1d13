/**
 * Body readers for HTTP/1.1 framing (length, chunked, until close) and the chunked encoder.
 */
import type { BodyReader } from "../message.ts";
import { type BufferedConn, READ_CHUNK, UnexpectedEofError } from "./buffered_conn.ts";
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
      const chunk = await this.next();
      if (chunk === null) this.#finish(true);
      return chunk;
    } catch (err) {
      this.#failure = err;
      this.#finish(false);
      throw err;
    }
  }

  cancel(reason?: unknown): void {
    if (this.#done === null) return;
    this.#failure = reason ?? new Error("body cancelled");
    this.#finish(false);
  }

  protected abstract next(): Promise<Uint8Array | null>;

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

  protected async next(): Promise<Uint8Array | null> {
    if (this.#remaining === 0) return null;
    const chunk = await this.io.readSome(Math.min(this.#remaining, READ_CHUNK));
    if (chunk === null) throw new UnexpectedEofError("body");
    this.#remaining -= chunk.length;
    return chunk;
  }
}

class ChunkedBody extends FramedBody {
  readonly length = -1;
  #inChunk = 0;
  #ended = false;

  protected async next(): Promise<Uint8Array | null> {
    if (this.#ended) return null;
    while (this.#inChunk === 0) {
      const line = await this.io.readLine(MAX_CHUNK_LINE, "chunk size");
      const semi = line.indexOf(";");
      const hex = (semi < 0 ? line : line.slice(0, semi)).trim();
      if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) throw new HttpParseError(400, "malformed chunk size");
      const size = parseInt(hex, 16);
      if (size === 0) {
        await this.#skipTrailers();
        this.#ended = true;
        return null;
      }
      this.#inChunk = size;
    }
    const chunk = await this.io.readSome(Math.min(this.#inChunk, READ_CHUNK));
    if (chunk === null) throw new UnexpectedEofError("chunked body");
    this.#inChunk -= chunk.length;
    if (this.#inChunk === 0) {
      const crlf = await this.io.readLine(2, "chunk end");
      if (crlf !== "") throw new HttpParseError(400, "malformed chunk end");
    }
    return chunk;
  }

  async #skipTrailers(): Promise<void> {
    let total = 0;
    while (true) {
      const line = await this.io.readLine(MAX_TRAILERS, "trailers");
      if (line === "") return;
      total += line.length + 2;
      if (total > MAX_TRAILERS) throw new HttpParseError(400, "trailers too large");
    }
  }
}

class CloseDelimitedBody extends FramedBody {
  readonly length = -1;

  protected next(): Promise<Uint8Array | null> {
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
