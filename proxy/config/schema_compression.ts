/**
 * The `compression` keys: server-wide at the top level, overridden per route (each route key
 * not written takes the top-level value). Default levels are measured (bench/codec_levels.ts):
 * for each codec, the fastest level whose output is within 10% of its level 6.
 *
 * @module
 */
import { DEFAULT_CODEC_MEMORY } from "../http/compress/codec_memory.ts";
import { def, inherit, list, obj, union } from "./dsl.ts";
import { bool, disabled, int, oneOf, size, text } from "./values.ts";

const codec = oneOf(["zstd", "br", "gzip"]);
const codecs = list(codec, { single: true, unique: true, nonEmpty: "list at least one codec" });

const mediaType = text({
  expected: `a media type like "text/html", "text/*" or "application/*+json"`,
  type: "media type",
  pattern: /^[A-Za-z0-9][\w.+-]*\/(?:\*(?:\+[\w.-]+)?|[A-Za-z0-9][\w.+-]*)$/,
  map: (type) => type.toLowerCase(),
  check: (type) =>
    type.startsWith("application/grpc")
      ? `gRPC messages carry their own compression: remove ${JSON.stringify(type)}`
      : undefined,
});
const types = list(mediaType, { unique: true });

/** Compressible by default: text and structured text, SVG, wasm, uncompressed fonts. */
const DEFAULT_TYPES = [
  "text/*",
  "application/json",
  "application/*+json",
  "application/x-ndjson",
  "application/javascript",
  "application/x-javascript",
  "application/ecmascript",
  "application/xml",
  "application/*+xml",
  "application/wasm",
  "image/svg+xml",
  "font/ttf",
  "font/otf",
  "application/vnd.ms-fontobject",
];

const LEVEL_RANGES = { gzip: [1, 9], br: [0, 11], zstd: [1, 19] } as const;

/** The top-level `compression` section. */
export const compressionSection = obj({
  enabled: def(bool(), true, "Compress responses (routes may turn it off or on)"),
  codecs: def(codecs, ["zstd", "br", "gzip"], "Codecs offered, in server preference order"),
  levels: def(
    obj({
      gzip: def(int(...LEVEL_RANGES.gzip), 4, "Gzip level"),
      br: def(int(...LEVEL_RANGES.br), 4, "Brotli quality"),
      zstd: def(int(...LEVEL_RANGES.zstd), 1, "Zstandard level"),
    }),
    {},
    "Level per codec (higher: smaller, slower)",
  ),
  min_size: def(
    size("0B", "1GiB"),
    "1KiB",
    "Responses with a Content-Length below this are sent as they are",
  ),
  types: def(
    types,
    DEFAULT_TYPES,
    "Compressible media types (exact, or families like application/*+json)",
  ),
  max_memory: def(
    size("1MiB", "64GiB"),
    `${DEFAULT_CODEC_MEMORY / (1024 * 1024)}MiB`,
    "Memory the encoders and decoders of responses in flight hold at most, per worker (an " +
      "encoder what its codec and level take, from ~0.4 MiB for gzip to ~90 MiB for zstd 19; a " +
      "decoder its coding's largest window); a response that finds it in use goes out " +
      "uncompressed, or gets 503 when it needed decoding. Top level only",
  ),
}, "compression settings");

/** A route's `compression`: false, or keys that replace the top-level ones. */
export const routeCompression = union(
  disabled(),
  obj({
    enabled: inherit(bool(), "compression.enabled", "Compress this route's responses"),
    codecs: inherit(codecs, "compression.codecs", "Codecs offered, in preference order"),
    levels: def(
      obj({
        gzip: inherit(int(...LEVEL_RANGES.gzip), "compression.levels.gzip", "Gzip level"),
        br: inherit(int(...LEVEL_RANGES.br), "compression.levels.br", "Brotli quality"),
        zstd: inherit(int(...LEVEL_RANGES.zstd), "compression.levels.zstd", "Zstandard level"),
      }),
      {},
      "Level per codec",
    ),
    min_size: inherit(size("0B", "1GiB"), "compression.min_size", "Smallest body compressed"),
    types: inherit(types, "compression.types", "Compressible media types (replaces the list)"),
  }, "route compression"),
);
