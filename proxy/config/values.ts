/**
 * Scalar value kinds of the YAML file: strings, numbers, durations, sizes, choices.
 *
 * @module
 */
import {
  describe,
  fail,
  type JsonObject,
  mismatch,
  ok,
  type Parsed,
  scalar,
  type ScalarNode,
} from "./dsl.ts";
import { didYouMean, quoteList } from "./errors.ts";

/** Options of a string kind: what it must look like, and how it is normalised. */
export interface TextOptions {
  /** Completes "expected ...". */
  readonly expected: string;
  /** Reference type column; default "string". */
  readonly type?: string;
  /** Tested on the text as written; also the JSON Schema `pattern` (so no flags). */
  readonly pattern?: RegExp;
  /** Normalises the accepted text (lowercase, trim a trailing "/"). */
  readonly map?: (text: string) => string;
  /** Further rule on the normalised text: a complete message, or undefined when fine. */
  readonly check?: (text: string) => string | undefined;
}

/** A string; numbers are accepted as written (`x-version: 2` means "2"). */
export function text(options: TextOptions): ScalarNode<string> {
  const json: JsonObject = options.pattern
    ? { type: "string", pattern: options.pattern.source }
    : { type: "string" };
  return scalar({
    type: options.type ?? "string",
    expected: options.expected,
    json,
    decode(value, source) {
      if (typeof value !== "string" && typeof value !== "number") {
        return mismatch(options.expected, value, source);
      }
      const raw = typeof value === "number" ? source : value;
      if (options.pattern && !options.pattern.test(raw)) {
        return mismatch(options.expected, value, source);
      }
      const normalised = options.map ? options.map(raw) : raw;
      const problem = options.check?.(normalised);
      return problem === undefined ? ok(normalised) : { ok: false, message: problem };
    },
  });
}

/** Any non-empty string. */
export function str(expected = "a string"): ScalarNode<string> {
  return text({ expected, pattern: /^[\s\S]+$/ });
}

/** `true` or `false`. */
export function bool(): ScalarNode<boolean> {
  return scalar({
    type: "boolean",
    expected: "true or false",
    json: { type: "boolean" },
    decode: (value, source) =>
      typeof value === "boolean" ? ok(value) : mismatch("true or false", value, source),
  });
}

/** An integer within `min`..`max`. */
export function int(min: number, max: number): ScalarNode<number> {
  const expected = `an integer from ${min} to ${max}`;
  return scalar({
    type: `integer ${min}-${max}`,
    expected,
    json: { type: "integer", minimum: min, maximum: max },
    decode(value, source) {
      const fits = typeof value === "number" && Number.isInteger(value) && value >= min &&
        value <= max;
      return fits ? ok(value) : mismatch(expected, value, source);
    },
  });
}

/** `"auto"` or an integer within `min`..`max`; "auto" decodes as `"auto"`. */
export function autoOrInt(min: number, max: number): ScalarNode<"auto" | number> {
  const expected = `"auto" or an integer from ${min} to ${max}`;
  return scalar<"auto" | number>({
    type: `auto or integer ${min}-${max}`,
    expected,
    json: { oneOf: [{ const: "auto" }, { type: "integer", minimum: min, maximum: max }] },
    decode(value, source) {
      if (value === "auto") return ok<"auto" | number>("auto");
      const fits = typeof value === "number" && Number.isInteger(value) && value >= min &&
        value <= max;
      return fits ? ok(value) : mismatch(expected, value, source);
    },
  });
}

/** One of a fixed set of words. */
export function oneOf<const V extends readonly string[]>(values: V): ScalarNode<V[number]> {
  const expected = `one of ${quoteList(values)}`;
  return scalar({
    type: values.map((v) => `\`${v}\``).join(" | "),
    expected,
    json: { type: "string", enum: values },
    decode(value, source) {
      const word = typeof value === "number" ? source : value;
      if (typeof word === "string" && values.includes(word)) return ok(word as V[number]);
      const hint = typeof word === "string" ? didYouMean(word, values) : "";
      return fail(`expected ${expected}, found ${describe(value, source)}${hint}`);
    },
  });
}

const UNITS_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|h|m|s))+$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
const MAX_DURATION_MS = 24 * 3_600_000;

function durationMs(text: string): number {
  let total = 0;
  for (const [, amount, unit] of text.matchAll(DURATION_PART)) {
    total += Number(amount) * UNITS_MS[unit];
  }
  return Math.round(total);
}

/**
 * A duration in milliseconds: "500ms", "30s", "5m", "1h", "1m30s", or a number of seconds.
 * With `off`, 0 and "off" are allowed and mean 0 (no limit); otherwise it must be at least 1ms.
 */
export function dur(options: { off?: boolean } = {}): ScalarNode<number> {
  const off = options.off ?? false;
  const expected = `a duration like "30s" or "500ms"${off ? ` (or "off")` : ""}`;
  const pattern = off ? `^(?:off|${DURATION.source.slice(1, -1)})$` : DURATION.source;
  return scalar({
    type: off ? "duration or off" : "duration",
    expected,
    json: { type: ["string", "number"], pattern, minimum: 0 },
    decode(value, source) {
      let ms: number;
      if (typeof value === "number" && value >= 0 && Number.isFinite(value)) {
        ms = Math.round(value * 1000);
      } else if (typeof value === "string" && DURATION.test(value)) ms = durationMs(value);
      else if (off && value === "off") return ok(0);
      else return mismatch(expected, value, source);
      if ((ms === 0 && !off) || ms > MAX_DURATION_MS) {
        return mismatch(`a duration from ${off ? "0" : "1ms"} to 24h`, value, source);
      }
      return ok(ms);
    },
  });
}

const UNITS_BYTES: Readonly<Record<string, number>> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
};
const SIZE = /^(\d+(?:\.\d+)?)(B|KB|MB|GB|KiB|MiB|GiB)$/;

/** Bytes in a size string ("16KiB") or integer, or undefined if it is not one. */
function parseSize(value: unknown): number | undefined {
  if (typeof value === "number") {
    return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  }
  const match = typeof value === "string" ? SIZE.exec(value) : null;
  return match ? Math.round(Number(match[1]) * UNITS_BYTES[match[2]]) : undefined;
}

function sizeNode<T>(
  type: string,
  expected: string,
  pattern: string,
  decode: ScalarNode<T>["decode"],
) {
  return scalar({
    type,
    expected,
    json: { type: ["string", "integer"], pattern, minimum: 0 },
    decode,
  });
}

const SIZE_EXPECTED = `a size like "16KiB" or "10MiB"`;

/** A size in bytes within `min`..`max` (both written like "1KiB"). */
export function size(min: string, max: string): ScalarNode<number> {
  const [low, high] = [parseSize(min)!, parseSize(max)!];
  return sizeNode("size", SIZE_EXPECTED, SIZE.source, (value, source) => {
    const bytes = parseSize(value);
    if (bytes === undefined) return mismatch(SIZE_EXPECTED, value, source);
    if (bytes < low || bytes > high) return mismatch(`a size from ${min} to ${max}`, value, source);
    return ok(bytes);
  });
}

/** A size in bytes, or 0 / "off" for no limit (`null`). */
export function sizeOrOff(): ScalarNode<number | null> {
  const expected = `${SIZE_EXPECTED} (or "off")`;
  const pattern = `^(?:off|${SIZE.source.slice(1, -1)})$`;
  return sizeNode("size or off", expected, pattern, (value, source): Parsed<number | null> => {
    if (value === "off") return ok(null);
    const bytes = parseSize(value);
    if (bytes === undefined) return mismatch(expected, value, source);
    return ok(bytes === 0 ? null : bytes);
  });
}

/** A name checked against `pattern`, explained by `rule` when it does not match. */
export function name(pattern: RegExp, what: string, rule: string): ScalarNode<string> {
  return text({ expected: `${what} (${rule})`, type: "name", pattern });
}

/** `false`, decoded as `null`: the scalar half of "false or a map" settings. */
export function disabled(): ScalarNode<null> {
  return scalar({
    type: "false",
    expected: "false",
    json: { const: false },
    decode: (value, source) =>
      value === false ? ok(null) : mismatch("false or a map", value, source),
  });
}
