/**
 * The `compression` settings as the stage reads them, and the check that every level a config
 * uses fits `compression.max_memory`: an encoder larger than the whole budget would never get to
 * compress a response, and one that fits only a few times leaves most responses uncompressed.
 *
 * @module
 */
import { decoderBytes, encoderBytes } from "../http/compress/codec_memory.ts";
import type { Context } from "./context.ts";
import type { Segment } from "./errors.ts";
import type { RawConfig } from "./schema.ts";
import type { Codec, Compression } from "./types.ts";

/** Fewer encoders of one level than this at once per worker earns a warning. */
const FEW_ENCODERS = 8;
const MIB = 1024 * 1024;

/** Compression settings as the stage reads them; null when `enabled` is false. */
export function compression(
  raw: Omit<RawConfig["compression"], "max_memory">,
): Compression | null {
  if (!raw.enabled) return null;
  const { gzip, br, zstd } = raw.levels;
  return {
    codecs: raw.codecs,
    levels: { gzip, br, zstd },
    minSize: raw.min_size,
    types: raw.types,
  };
}

function mib(bytes: number): string {
  return bytes >= 10 * MIB ? String(Math.round(bytes / MIB)) : (bytes / MIB).toFixed(1);
}

/**
 * Errors for levels whose one encoder is larger than `compression.max_memory`, warnings for
 * levels it holds fewer than FEW_ENCODERS of (at the top level, and in routes that set a level
 * of their own), and a warning when it cannot hold a decoder of every coding.
 */
export function checkCodecMemory(ctx: Context, raw: RawConfig): void {
  const budget = raw.compression.max_memory;
  const budgetPath: Segment[] = ["compression", "max_memory"];
  const brDecoder = decoderBytes("br");
  if (budget < brDecoder) {
    ctx.warn(
      budgetPath,
      `compression.max_memory (${mib(budget)} MiB per worker) cannot hold a brotli decoder ` +
        `(~${mib(brDecoder)} MiB for the largest window): a response an upstream sends ` +
        `br-encoded to a client that does not accept br gets 503 (upstreams that honour ` +
        `Accept-Encoding never need one)`,
    );
  }
  const check = (
    codecs: readonly Codec[],
    levels: Record<Codec, number>,
    path: Segment[],
    top: boolean,
  ) => {
    for (const codec of codecs) {
      const levelPath = [...path, "levels", codec];
      if (!top && !ctx.written(levelPath)) continue;
      const level = levels[codec];
      const bytes = encoderBytes(codec, level);
      const at = top && !ctx.written(levelPath) ? budgetPath : levelPath;
      const what = `${codec} level ${level} holds ~${mib(bytes)} MiB for each response it ` +
        `compresses`;
      if (bytes > budget) {
        ctx.error(
          at,
          `${what}, more than compression.max_memory (${mib(budget)} MiB per worker): no ` +
            `response would be compressed with it; lower the level, or raise ` +
            `compression.max_memory to at least ${Math.ceil(bytes / MIB)}MiB`,
        );
      } else if (bytes * FEW_ENCODERS > budget) {
        ctx.warn(
          at,
          `${what}: compression.max_memory (${mib(budget)} MiB per worker) holds ` +
            `${Math.floor(budget / bytes)} of them at once, and responses past that go out ` +
            `uncompressed; lower the level, or raise compression.max_memory to ` +
            `${Math.ceil(bytes * FEW_ENCODERS / MIB)}MiB`,
        );
      }
    }
  };
  check(raw.compression.codecs, raw.compression.levels, ["compression"], true);
  for (const route of raw.routes) {
    const settings = route.compression;
    if (settings === null || !settings.enabled) continue;
    check(settings.codecs, settings.levels, ctx.path(route, "compression"), false);
  }
}
