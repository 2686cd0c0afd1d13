/**
 * Loading the config file: read, parse (with positions), merge the fragments of other sources
 * (container labels), validate against the schema collecting every error, apply defaults,
 * resolve and freeze.
 *
 * @module
 */
import { dirname } from "node:path";
import { LineCounter, parseDocument, type YAMLError } from "yaml";
import { Context, readProblem } from "./context.ts";
import { interpolateEnv } from "./env.ts";
import type { ConfigError } from "./errors.ts";
import { type ConfigFragment, fragmentsText, insertFragments, withoutFailed } from "./fragments.ts";
import { Locator } from "./locator.ts";
import { concatBytes } from "../bytes.ts";
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
    /** The errors of the fragments (containers) left out; the config holds the others. */
    readonly skipped: readonly ConfigError[];
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
    /** The fragments' own warnings. */
    readonly warnings: readonly ConfigError[];
    locator: Locator;
  }
  | { readonly ok: false; readonly errors: ConfigError[] };

function decode(text: string, file: string, fragments: readonly ConfigFragment[] = []): Decoded {
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
  const locator = new Locator(file);
  const merged = insertFragments(doc, lines, fragments, locator);
  const { value, errors } = validate(configSchema, doc, lines, file, locator);
  errors.push(...merged.errors);
  if (value === undefined) return { ok: false, errors };
  return { ok: true, value, errors, locator, warnings: merged.warnings };
}

async function loadOnce(
  bytes: Uint8Array<ArrayBuffer>,
  text: string,
  file: string,
  fragments: readonly ConfigFragment[],
): Promise<LoadResult> {
  const decoded = decode(text, file, fragments);
  if (!decoded.ok) return failed(decoded.errors);
  const ctx = new Context(decoded.locator, dirname(file));
  const hashed = fragments.length === 0
    ? bytes
    : concatBytes([bytes, new TextEncoder().encode(fragmentsText(fragments))]);
  const meta = { source: file, version: await shortHash(hashed), file };
  const config = await resolve(ctx, decoded.value, meta);
  const all = [...decoded.errors, ...ctx.errors];
  if (all.length > 0) return failed(all);
  const warnings = [...decoded.warnings, ...ctx.warnings];
  return { ok: true, config: deepFreeze(config), warnings, skipped: [] };
}

/**
 * Loads the file with `fragments` merged in. A fragment with an error is left out (its errors
 * go to `skipped`) and the rest loaded again; errors of the file itself fail the load.
 */
async function load(
  bytes: Uint8Array<ArrayBuffer>,
  text: string,
  file: string,
  fragments: readonly ConfigFragment[],
): Promise<LoadResult> {
  const skipped: ConfigError[] = [];
  let active = fragments;
  while (true) {
    const result = await loadOnce(bytes, text, file, active);
    if (result.ok) return { ...result, skipped };
    const fromLabels = result.errors.filter((e) => e.label !== undefined);
    if (fromLabels.length < result.errors.length) {
      return failed(result.errors.filter((e) => e.label === undefined));
    }
    skipped.push(...fromLabels);
    active = withoutFailed(active, fromLabels);
  }
}

/**
 * Loads the config from YAML text. `file` names it in errors, and relative certificate, key and
 * CA paths start at its directory; the file itself is not read. `fragments` (container labels)
 * are merged in.
 */
export function loadConfigText(
  text: string,
  file: string,
  fragments: readonly ConfigFragment[] = [],
): Promise<LoadResult> {
  return load(new TextEncoder().encode(text), text, file, fragments);
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

/**
 * Reads, validates and resolves the YAML config file at `path`, with `fragments` (container
 * labels) merged in.
 */
export async function loadConfig(
  path: string,
  fragments: readonly ConfigFragment[] = [],
): Promise<LoadResult> {
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
  return load(bytes, text, path, fragments);
}
