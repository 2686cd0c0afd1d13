/**
 * Mutated copies of the shipped config files (seeded, reproducible): whatever the text, loading
 * it never throws, and a config that does not load says where and why in words a person reads:
 * every error names the file, a line and column inside it (or the file as a whole), and a message
 * that is neither empty nor a leaked exception (no stack frames, "undefined", "[object Object]").
 * A config that loads is frozen.
 *
 * GATEHOUSE_FUZZ_CASES (default 600) and GATEHOUSE_FUZZ_SEED (default fixed) run more or other
 * cases; a failure names the seed and case, and the mutated text.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadConfigText } from "./load.ts";
import { formatConfigError } from "./errors.ts";
import { mutate, seeded } from "../testing/mutate.ts";

const CASES = Number(Deno.env.get("GATEHOUSE_FUZZ_CASES") ?? 600);
const SEED = Number(Deno.env.get("GATEHOUSE_FUZZ_SEED") ?? 20261207);

const CONFIG_DIR = new URL("../../config/", import.meta.url).pathname;
const SHIPPED = ["gatehouse.yaml", "example.yaml", "tcp.yaml"];

const WORDS: readonly string[] = [
  ...[" ", "  ", "\t", "\n", "\r\n", "\0", ":", ": ", "- ", "-", "#", "&a ", "*a", "!!str ", "|"],
  ...[">", "'", '"', "{", "}", "[", "]", ",", "?", "%", "@", "`", "~", "null", "true", "0"],
  ...["-1", "1e999", "0x10", "9999999999999999999", "1.5", ".inf", "NaN", "\u00e9", "\ufeff"],
  ...["off", "auto", "500ms", "1h", "16KiB", "10MiB", "unix:/tmp/x.sock", ":80", "[::1]:1"],
  "<<: *a\n",
  "x".repeat(300),
];

/**
 * Why `message` reads like a leaked exception rather than an explanation, or null. Words the
 * config itself holds (`text`) may be quoted back.
 */
function leaked(message: string, text: string): string | null {
  if (message.trim() === "") return "an empty message";
  if (/\n\s+at .+:\d+:\d+/.test(message)) return "a stack trace";
  for (const word of ["undefined", "[object Object]", "NaN"]) {
    if (message.includes(word) && !text.includes(word)) return `a leaked ${word}`;
  }
  return null;
}

Deno.test("mutated shipped configs: loading never throws, and every error says where and why", async () => {
  const texts = await Promise.all(SHIPPED.map((name) => Deno.readTextFile(CONFIG_DIR + name)));
  const rng = seeded(SEED);
  const failures: string[] = [];
  let loaded = 0;
  for (let k = 0; k < CASES; k++) {
    const which = Math.floor(rng() * texts.length);
    const text = mutate(rng, [texts[which]], WORDS);
    const file = join(CONFIG_DIR, SHIPPED[which]);
    const where = `case ${k} (seed ${SEED}) on ${SHIPPED[which]}`;
    let result;
    try {
      result = await loadConfigText(text, file);
    } catch (err) {
      failures.push(`${where}: threw ${err instanceof Error ? err.stack : err}\n${text}`);
      continue;
    }
    if (result.ok) {
      loaded++;
      if (!Object.isFrozen(result.config)) failures.push(`${where}: a config that is not frozen`);
      continue;
    }
    if (result.errors.length === 0) failures.push(`${where}: not loaded, and no error`);
    const lines = text.split("\n").length;
    for (const e of result.errors) {
      const shown = formatConfigError(e);
      const problem = e.file !== file
        ? `names ${e.file}`
        : e.line < 0 || e.line > lines + 1 || (e.line > 0 && e.col < 1)
        ? `line ${e.line} column ${e.col} outside the file`
        : leaked(e.message, text);
      if (problem !== null) failures.push(`${where}: ${problem}: ${shown}`);
    }
  }
  assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failing cases`);
  // The mutations are not all fatal: some configs still load (with their changes).
  assert.ok(loaded > 0, "no mutated config loaded");
});
