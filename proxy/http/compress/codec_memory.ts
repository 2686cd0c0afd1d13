/**
 * What one response encoder or decoder holds while its client reads nothing: what the codec
 * budget (`compression.max_memory`) charges each response whose coding Gatehouse changes.
 * Measured with bench/codec_memory.ts on Deno 2.9.6 (2026-12-07: each encoder fed more JSON than
 * its window, each decoder 20 MiB of JSON encoded with the largest window; RSS growth per open
 * codec), in KiB with a tenth added, rounded up to 64 KiB. Brotli's qualities 7-9 take bigger
 * hash tables (9: 33 MiB) than 10 and 11 (Zopfli-style search, 6 MiB); zstd's levels take their
 * window and tables from zstd's own table.
 *
 * @module
 */
import type { Codec } from "../../config/types.ts";

/** A content coding Gatehouse can decode. */
export type Decodable = Codec | "deflate";

const KIB = 1024;

/** `compression.max_memory`'s default: 32 MiB per worker. */
export const DEFAULT_CODEC_MEMORY = 32 * 1024 * KIB;

/** Gzip holds the same at every level (its window and hash chains do not depend on it). */
const GZIP = 512 * KIB;
/** Brotli with its 512 KiB window, by quality 0-11. */
const BR = [256, 256, 1792, 1728, 2112, 2688, 3840, 8960, 17984, 37312, 6720, 6784].map((k) =>
  k * KIB
);
/** Zstandard by level 1-19 (index 0 unused). */
const ZSTD = [
  0,
  960,
  1664,
  3264,
  4672,
  5248,
  5248,
  8064,
  8064,
  16000,
  27200,
  27264,
  49728,
  40768,
  58816,
  76864,
  37888,
  63488,
  64000,
  100032,
].map((k) => k * KIB);

/**
 * Decoders hold what the upstream's window asks for, up to the largest HTTP allows (brotli 16
 * MiB by RFC 7932, zstd 8 MiB by RFC 9659): charged at that, since the stream's own is in its
 * first bytes, which the stage, deciding before the body is read, has not seen.
 */
const DECODER: Readonly<Record<Decodable, number>> = {
  gzip: 320 * KIB,
  deflate: 320 * KIB,
  br: 19_136 * KIB,
  zstd: 9_856 * KIB,
};

/** Bytes one decoder of `coding` holds at most. */
export function decoderBytes(coding: Decodable): number {
  return DECODER[coding];
}

/** Bytes one encoder of `codec` at `level` holds at most. */
export function encoderBytes(codec: Codec, level: number): number {
  switch (codec) {
    case "gzip":
      return GZIP;
    case "br":
      return BR[level];
    case "zstd":
      return ZSTD[level];
  }
}
