/**
 * Helpers for the config tests: decoding single values, loading YAML snippets, temp cert files.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { PemPair } from "../pki/generate.ts";
import { testPki } from "../testing/certs.ts";
import type { Parsed, ScalarNode, ScalarValue } from "./dsl.ts";
import { type ConfigError, formatConfigError } from "./errors.ts";
import { loadConfigText, type LoadResult } from "./load.ts";
import type { Config } from "./types.ts";

/** Decodes like the validator: strings are their own source, numbers keep their spelling. */
export function decode<T>(node: ScalarNode<T>, input: ScalarValue, source?: string): Parsed<T> {
  return node.decode(input, source ?? (input === null ? "" : String(input)));
}

/** The decoded value; throws with the message when refused. */
export function value<T>(node: ScalarNode<T>, input: ScalarValue, source?: string): T {
  const parsed = decode(node, input, source);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.value;
}

/** The message of a refused value; fails the test when it is accepted. */
export function message(node: ScalarNode<unknown>, input: ScalarValue, source?: string): string {
  const parsed = decode(node, input, source);
  assert.equal(parsed.ok, false, `${JSON.stringify(input)} should be refused`);
  return parsed.ok ? "" : parsed.message;
}

/** Removes the common indentation of a template literal, so YAML can sit indented in tests. */
export function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const text = String.raw({ raw: strings }, ...values).replace(/^\n/, "");
  const indent = Math.min(
    ...text.split("\n").filter((l) => l.trim() !== "").map((l) => l.match(/^ */)![0].length),
  );
  return text.split("\n").map((l) => l.slice(indent)).join("\n");
}

/** The smallest valid config; tests append sections to it. */
export const MINIMAL = yaml`
  entrypoints:
    web:
      address: ":8080"
`;

/** Where snippets pretend to live when they read no files. */
export const FILE = "/nonexistent/config/test.yaml";

/** The errors of a result ([] when it loaded). */
export function errorsIn(result: LoadResult): readonly ConfigError[] {
  return result.ok ? [] : result.errors;
}

/** Errors as `line:col path: message` (no file), or [] when it loaded. */
export function errorLines(result: LoadResult): string[] {
  if (result.ok) return [];
  return result.errors.map((e) => formatConfigError({ ...e, file: "" }).replace(/^: ?/, ""));
}

/** Loads a snippet and returns its errors as `line:col path: message`. */
export async function errorsOf(text: string, file = FILE): Promise<string[]> {
  return errorLines(await loadConfigText(text, file));
}

/** Loads a snippet that must be valid. */
export async function configOf(text: string, file = FILE): Promise<Config> {
  const result = await loadConfigText(text, file);
  assert.deepEqual(errorLines(result), []);
  return (result as { config: Config }).config;
}

/** Runs `fn` with a fresh temp dir, removed afterwards. */
export async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "gatehouse-config-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes `<dir>/<base>.crt` and `<dir>/<base>.key`. */
export async function writePair(dir: string, base: string, pair: PemPair): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(join(dir, `${base}.crt`), pair.certPem);
  await Deno.writeTextFile(join(dir, `${base}.key`), pair.keyPem);
}

/**
 * Runs `fn` with a temp dir holding `certs/localhost.crt|key` (localhost, *.localhost) and
 * `certs/other.crt|key` (other.test); `file` is `<dir>/config/test.yaml`, so snippets refer to
 * `../certs/localhost.crt`.
 */
export async function withCerts(fn: (file: string, dir: string) => Promise<void>): Promise<void> {
  const pki = await testPki();
  await withTempDir(async (dir) => {
    await writePair(join(dir, "certs"), "localhost", await pki.leaf("localhost", "*.localhost"));
    await writePair(join(dir, "certs"), "other", await pki.leaf("other.test"));
    await Deno.mkdir(join(dir, "config"));
    await fn(join(dir, "config", "test.yaml"), dir);
  });
}

/**
 * An entrypoint `websecure` on :8443 with the localhost certificate, then `web` on :8080 (last,
 * so that appended indented keys land in `web`).
 */
export const TLS_MINIMAL = yaml`
  entrypoints:
    websecure:
      address: ":8443"
      tls:
        certificates:
          - { cert: ../certs/localhost.crt, key: ../certs/localhost.key }
    web:
      address: ":8080"
`;
