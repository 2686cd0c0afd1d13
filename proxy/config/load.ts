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
import { resolve } from "./resolve.ts";
import { configSchema } from "./schema.ts";
import type { Config } from "./types.ts";
import { validate } from "./validate.ts";

/** A frozen config, or every error found. */
export type LoadResult =
  | { readonly ok: true; readonly config: Config }
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

async function load(
  bytes: Uint8Array<ArrayBuffer>,
  text: string,
  file: string,
): Promise<LoadResult> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) return failed(problems.map((e) => syntaxError(e, lines, file)));
  const envErrors = interpolateEnv(doc, lines, file);
  if (envErrors.length > 0) return failed(envErrors);
  const contents = doc.contents as { value?: unknown } | null;
  if (contents === null || contents.value === null) {
    return failed([{
      file,
      line: 1,
      col: 1,
      path: "",
      message: "the file is empty: define at least one entrypoint",
    }]);
  }
  const { value, errors, locator } = validate(configSchema, doc, lines, file);
  if (value === undefined) return failed(errors);
  const ctx = new Context(locator, dirname(file));
  const config = await resolve(ctx, value, { source: file, version: await shortHash(bytes), file });
  const all = [...errors, ...ctx.errors];
  return all.length > 0 ? failed(all) : { ok: true, config: deepFreeze(config) };
}

/**
 * Loads the config from YAML text. `file` names it in errors, and relative certificate, key and
 * CA paths start at its directory; the file itself is not read.
 */
export function loadConfigText(text: string, file: string): Promise<LoadResult> {
  return load(new TextEncoder().encode(text), text, file);
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
