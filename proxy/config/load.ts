/**
 * Loading the config file: read, parse (with positions), validate against the schema collecting
 * every error, apply defaults, resolve and freeze.
 *
 * @module
 */
import { dirname } from "node:path";
import { LineCounter, parseDocument, type YAMLError } from "yaml";
import { Context, readProblem } from "./context.ts";
import { interpolateEnv } from "./env.ts";
import type { ConfigError } from "./errors.ts";
import type { Locator } from "./locator.ts";
import { resolve } from "./resolve.ts";
import { configSchema, type RawConfig } from "./schema.ts";
import type { Config } from "./types.ts";
import { validate } from "./validate.ts";

/** A frozen config, or every error found. */
export type LoadResult =
  | {
    readonly ok: true;
    readonly config: Config;
    /** Problems that do not stop the file from working, like a route that can never match. */
    readonly warnings: readonly ConfigError[];
  }
  | { readonly ok: false; readonly errors: readonly ConfigError[] };

function failed(errors: ConfigError[]): LoadResult {
  const sorted = errors.toSorted((a, b) => a.line - b.line || a.col - b.col);
  return { ok: false, errors: sorted };
}

function wholeFile(file: string, message: string): LoadResult {
  return failed([{ file, line: 0, col: 0, path: "", message }]);
}

function syntaxError(error: YAMLError, lines: LineCounter, file: string): ConfigError {
  const { line, col } = lines.linePos(error.pos[0]);
  const message = error.code === "MULTIPLE_DOCS"
    ? `the file holds more than one YAML document ("---"): keep one`
    : `Cannot parse YAML: ${error.message.replace(/\.$/, "")}`;
  return { file, line, col, path: "", message };
}

/** Freezes `value` and everything it holds (typed arrays cannot be frozen and are skipped). */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== "object" || value === null || ArrayBuffer.isView(value)) return value;
  if (Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const child of Object.values(value)) deepFreeze(child);
  return value;
}

async function shortHash(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest.slice(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The file decoded against the schema (defaults applied, nothing resolved) with the errors found
 * so far, or only errors when nothing could be decoded.
 */
type Decoded =
  | {
    readonly ok: true;
    readonly value: RawConfig;
    readonly errors: ConfigError[];
    locator: Locator;
  }
  | { readonly ok: false; readonly errors: ConfigError[] };

function decode(text: string, file: string): Decoded {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) {
    return { ok: false, errors: problems.map((e) => syntaxError(e, lines, file)) };
  }
  const envErrors = interpolateEnv(doc, lines, file);
  if (envErrors.length > 0) return { ok: false, errors: envErrors };
  const contents = doc.contents as { value?: unknown } | null;
  if (contents === null || contents.value === null) {
    const message = "the file is empty: define at least one entrypoint";
    return { ok: false, errors: [{ file, line: 1, col: 1, path: "", message }] };
  }
  const { value, errors, locator } = validate(configSchema, doc, lines, file);
  return value === undefined ? { ok: false, errors } : { ok: true, value, errors, locator };
}

async function load(
  bytes: Uint8Array<ArrayBuffer>,
  text: string,
  file: string,
): Promise<LoadResult> {
  const decoded = decode(text, file);
  if (!decoded.ok) return failed(decoded.errors);
  const ctx = new Context(decoded.locator, dirname(file));
  const meta = { source: file, version: await shortHash(bytes), file };
  const config = await resolve(ctx, decoded.value, meta);
  const all = [...decoded.errors, ...ctx.errors];
  if (all.length > 0) return failed(all);
  return { ok: true, config: deepFreeze(config), warnings: ctx.warnings };
}

/**
 * Loads the config from YAML text. `file` names it in errors, and relative certificate, key and
 * CA paths start at its directory; the file itself is not read.
 */
export function loadConfigText(text: string, file: string): Promise<LoadResult> {
  return load(new TextEncoder().encode(text), text, file);
}

/**
 * The file at `path` decoded against the schema, with defaults applied but nothing resolved and
 * no other file read: what start-up needs to know before loading (which development
 * certificates to make). Undefined when the file cannot be read or has errors; `loadConfig`
 * reports them.
 */
export async function decodeConfigFile(path: string): Promise<RawConfig | undefined> {
  try {
    const decoded = decode(await Deno.readTextFile(path), path);
    return decoded.ok && decoded.errors.length === 0 ? decoded.value : undefined;
  } catch {
    return undefined;
  }
}

/** Reads, validates and resolves the YAML config file at `path`. */
export async function loadConfig(path: string): Promise<LoadResult> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    const problem = error instanceof Deno.errors.NotFound
      ? "file not found; check the path, or start from config/example.yaml"
      : readProblem(error, path);
    return wholeFile(path, `Cannot read the config file: ${problem}`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return wholeFile(path, "Cannot read the config file: it is not UTF-8 text");
  }
  return load(bytes, text, path);
}
