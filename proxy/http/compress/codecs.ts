/**
 * Streaming content codings over node:zlib, as BodyReaders: encoders (gzip, br, zstd) and
 * decoders (gzip, deflate, br, zstd).
 *
 * Pull-based: a chunk is read from the source only when the consumer asks for output and the
 * codec has none left, so the upstream is never read faster than the client takes the result,
 * and at most one codec buffer (64 KiB) waits in memory (a decompression bomb stays bounded).
 * Encoders flush after every source chunk: an event that the upstream wrote is on its way to
 * the client in full, not held back until the codec's window fills.
 *
 * A codec's own state is larger than that buffer, and a client that stops reading keeps it:
 * from ~0.4 MiB (gzip) to ~90 MiB (zstd 19) per encoder, up to 17 MiB per decoder (brotli's
 * largest window), measured in codec_memory.ts. 416 such clients (auto's requests in flight in a
 * 200 MiB container) got the process OOM-killed with any of the three encoders at their default
 * levels, and 40 brotli decoders did. So each codec takes what it can hold from one budget per
 * isolate (`compression.max_memory`) and gives it back when its response ends; when the budget
 * cannot spare it, encodeBody and decodeBody return null and the stage decides (shortfall.ts).
 * Brotli encoders get a 512 KiB window (as ngx_brotli's default) instead of 4 MiB: at quality 4
 * that held 6.8 MiB per response.
 *
 * @module
 */
import zlib from "node:zlib";
import type { Transform } from "node:stream";
import type { Codec } from "../../config/types.ts";
import type { BodyReader } from "../../proto/message.ts";

import { ByteBudget } from "../../net/byte_budget.ts";
import {
  type Decodable,
  decoderBytes,
  DEFAULT_CODEC_MEMORY,
  encoderBytes,
} from "./codec_memory.ts";

const C = zlib.constants;

/**
 * The isolate's budget for encoders and decoders (`compression.max_memory`; the runtime sets the
 * configured one).
 */
export const codecMemory: ByteBudget = new ByteBudget(DEFAULT_CODEC_MEMORY);

/** Makes the isolate's codec budget `bytes`. */
export function setCodecMemory(bytes: number): void {
  codecMemory.resize(bytes);
}

/** Brotli's window: 512 KiB (2^19). */
const BROTLI_WINDOW_BITS = 19;

/** A node:zlib stream: a Transform that can also flush. */
type CodecStream = Transform & zlib.Zlib;

export type { Decodable };

export type { Codec };

/** The decodable coding a Content-Encoding token names, or null. */
export function decodableCoding(token: string): Decodable | null {
  switch (token) {
    case "gzip":
    case "deflate":
    case "br":
    case "zstd":
      return token;
    default:
      return null;
  }
}

function encoder(codec: Codec, level: number): CodecStream {
  switch (codec) {
    case "gzip":
      return zlib.createGzip({ level });
    case "br":
      return zlib.createBrotliCompress({
        params: { [C.BROTLI_PARAM_QUALITY]: level, [C.BROTLI_PARAM_LGWIN]: BROTLI_WINDOW_BITS },
      });
    case "zstd":
      return zlib.createZstdCompress({ params: { [C.ZSTD_c_compressionLevel]: level } });
  }
}

const FLUSH: Readonly<Record<Codec, number>> = {
  gzip: C.Z_SYNC_FLUSH,
  br: C.BROTLI_OPERATION_FLUSH,
  zstd: C.ZSTD_e_flush,
};

/** True when `first` starts with a zlib header (RFC 1950); else "deflate" is taken as raw. */
function zlibWrapped(first: Uint8Array | null): boolean {
  if (first === null || first.length < 2) return true;
  return (first[0] & 0x0f) === 8 && ((first[0] << 8) | first[1]) % 31 === 0;
}

function decoder(coding: Decodable, first: Uint8Array | null): CodecStream {
  switch (coding) {
    case "gzip":
      return zlib.createGunzip();
    case "deflate":
      // RFC 9110 says zlib format; some servers send raw deflate: accept both.
      return zlibWrapped(first) ? zlib.createInflate() : zlib.createInflateRaw();
    case "br":
      return zlib.createBrotliDecompress();
    case "zstd":
      // RFC 9659: an HTTP zstd window is at most 8 MiB; refuse larger instead of allocating.
      return zlib.createZstdDecompress({ params: { [C.ZSTD_d_windowLogMax]: 23 } });
  }
}

/**
 * `source` encoded with `codec` at `level`, flushed after every source chunk; null when the
 * encoder budget cannot spare one (given back when the encoded body ends, fails or is cancelled).
 */
export function encodeBody(source: BodyReader, codec: Codec, level: number): BodyReader | null {
  const bytes = encoderBytes(codec, level);
  if (!codecMemory.take(bytes)) return null;
  return new CodecBody(
    source,
    () => encoder(codec, level),
    FLUSH[codec],
    `${codec} encoding`,
    () => codecMemory.give(bytes),
  );
}

/**
 * `source` with content coding `coding` removed; null when the budget cannot spare a decoder
 * (given back when the decoded body ends, fails or is cancelled).
 */
export function decodeBody(source: BodyReader, coding: Decodable): BodyReader | null {
  const bytes = decoderBytes(coding);
  if (!codecMemory.take(bytes)) return null;
  return new CodecBody(
    source,
    (first) => decoder(coding, first),
    null,
    `${coding} decoding`,
    () => codecMemory.give(bytes),
  );
}

function full(z: CodecStream): boolean {
  return z.readableLength >= z.readableHighWaterMark;
}

/** A node:zlib transform driven by reads, between a source body and its consumer. */
class CodecBody implements BodyReader {
  readonly length = -1;
  readonly #source: BodyReader;
  readonly #make: (first: Uint8Array | null) => CodecStream;
  /** Flush kind after each chunk (encoders); null: decoders emit what they can anyway. */
  readonly #flush: number | null;
  readonly #what: string;
  #z: CodecStream | null = null;
  /** The codec took all input given so far: time to read the next source chunk. */
  #hungry = true;
  #sourceDone = false;
  #ended = false;
  #failure: Error | null = null;
  #pinged = false;
  #wake: (() => void) | null = null;
  /** Called once when the body is done with its codec (ended, failed or cancelled). */
  #done: (() => void) | null;

  constructor(
    source: BodyReader,
    make: (first: Uint8Array | null) => CodecStream,
    flush: number | null,
    what: string,
    done: (() => void) | null,
  ) {
    this.#source = source;
    this.#make = make;
    this.#flush = flush;
    this.#what = what;
    this.#done = done;
  }

  read(): Promise<Uint8Array | null> {
    return this.#next().then(
      (chunk) => {
        if (chunk === null) this.#finish();
        return chunk;
      },
      (err) => {
        this.#finish();
        throw err;
      },
    );
  }

  async #next(): Promise<Uint8Array | null> {
    while (true) {
      if (this.#failure !== null) throw this.#failure;
      const z = this.#z;
      if (z === null && this.#ended) return null;
      // Output waits for the codec to finish the chunk (one read per chunk), unless a full
      // buffer holds the codec up.
      if (z !== null && (this.#hungry || this.#sourceDone || full(z))) {
        // All that is buffered (a bare read() returns only the first piece on Deno).
        const out = z.read(z.readableLength || undefined) as Uint8Array | null;
        if (out !== null) return out;
        if (this.#ended) return null;
      }
      if (this.#hungry && !this.#sourceDone) {
        await this.#feed();
        continue;
      }
      await this.#event();
    }
  }

  cancel(reason?: unknown): void {
    this.#finish();
    if (this.#ended) return;
    this.#ended = true;
    this.#source.cancel(reason);
    this.#z?.destroy();
  }

  /** The codec's memory is free (or about to be): its budget goes back, once. */
  #finish(): void {
    const done = this.#done;
    this.#done = null;
    done?.();
  }

  async #feed(): Promise<void> {
    let chunk: Uint8Array | null;
    try {
      chunk = await this.#source.read();
    } catch (err) {
      this.#ended = true;
      this.#z?.destroy();
      throw err;
    }
    if (this.#ended) return;
    if (chunk !== null && chunk.length === 0) return;
    const z = this.#z ?? this.#start(chunk);
    if (chunk === null) {
      this.#sourceDone = true;
      z.end();
      return;
    }
    this.#hungry = false;
    const taken = () => {
      this.#hungry = true;
      this.#ping();
    };
    if (this.#flush === null) {
      z.write(chunk, taken);
    } else {
      z.write(chunk);
      z.flush(this.#flush, taken);
    }
  }

  #start(first: Uint8Array | null): CodecStream {
    const z = this.#make(first);
    z.on("readable", () => this.#ping());
    z.on("end", () => {
      this.#ended = true;
      this.#ping();
    });
    z.on("error", (err: Error) => {
      if (this.#ended) return;
      this.#ended = true;
      this.#failure = new Error(
        `Cannot complete ${this.#what} of the response body: ${err.message}`,
      );
      this.#source.cancel(this.#failure);
      this.#ping();
    });
    this.#z = z;
    return z;
  }

  #ping(): void {
    this.#pinged = true;
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  async #event(): Promise<void> {
    if (!this.#pinged) await new Promise<void>((resolve) => this.#wake = resolve);
    this.#pinged = false;
  }
}
