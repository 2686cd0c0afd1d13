/**
 * The layer order of proxy/, enforced: every production module may import modules of its own
 * layer or of a layer below it, never above it nor beside it, and no file imports itself back
 * through a cycle. README.md's architecture section explains the order; change both together.
 *
 * Test files, benches (`*_bench.ts`) and proxy/testing/ are outside the order (they may import
 * anything), but production code must not import them.
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Top to bottom. Layers on one row are peers: they may not import each other. */
export const LAYERS: readonly (readonly string[])[] = [
  ["main"],
  ["app"],
  ["docker"],
  ["listen", "admin", "acme", "config"],
  ["http", "tcp", "udp"],
  ["upstream"],
  ["proto", "tls"],
  ["pki"],
  ["net"],
  ["internal"],
  ["telemetry"],
];

/** Leaf modules anyone may import: plain data types and byte helpers. */
const LEAVES = new Set(["config/types.ts", "bytes.ts", "clock.ts", "telemetry/records.ts"]);

/** Imports allowed against the order, each with its reason. */
const EXCEPTIONS = new Set([
  // The version Gatehouse reports is the one deno.json declares (data, not code).
  "app/version.ts -> ../deno.json",
]);

const ROOT = dirname(fileURLToPath(import.meta.url));

/** The layer of a module path relative to proxy/ ("http/router.ts" -> "http"). */
function layerOf(path: string): string {
  if (!path.includes("/")) return path.replace(/\.ts$/, "");
  return path.slice(0, path.indexOf("/"));
}

function rank(layer: string): number {
  const i = LAYERS.findIndex((row) => row.includes(layer));
  if (i < 0) throw new Error(`${layer}/ is in no layer: add it to LAYERS (and the README)`);
  return i;
}

const isTest = (p: string) =>
  p.endsWith("_test.ts") || p.endsWith("_bench.ts") || p.endsWith("test_helpers.ts") ||
  p.startsWith("testing/");

async function modules(dir = ROOT): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...await modules(p));
    else if (e.name.endsWith(".ts")) out.push(relative(ROOT, p));
  }
  return out.sort();
}

const IMPORT =
  /^\s*(?:import|export)\b[^;]*?\bfrom\s*["'](\.[^"']+)["']|^\s*import\s*["'](\.[^"']+)["']|import\(\s*["'](\.[^"']+)["']\s*\)/gm;

async function importsOf(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(join(ROOT, path));
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    out.push(relative(ROOT, resolve(ROOT, dirname(path), spec)));
  }
  return out;
}

/** Every import that breaks the order, as "from -> to (why)". */
export async function violations(): Promise<string[]> {
  const bad: string[] = [];
  for (const path of (await modules()).filter((p) => !isTest(p))) {
    for (const target of await importsOf(path)) {
      if (EXCEPTIONS.has(`${path} -> ${target}`)) continue;
      if (target.startsWith("..")) {
        bad.push(`${path} -> ${target} (outside proxy/)`);
        continue;
      }
      if (isTest(target)) {
        bad.push(`${path} -> ${target} (production code imports test code)`);
        continue;
      }
      if (LEAVES.has(target)) continue;
      const from = layerOf(path);
      const to = layerOf(target);
      if (from === to) continue;
      const [a, b] = [rank(from), rank(to)];
      if (b < a) bad.push(`${path} -> ${target} (${to}/ is above ${from}/)`);
      else if (b === a) bad.push(`${path} -> ${target} (${to}/ and ${from}/ are peers)`);
    }
  }
  return bad;
}

/** Import cycles among production modules, each as "a -> b -> ... -> a". */
export async function cycles(): Promise<string[]> {
  const graph = new Map<string, string[]>();
  for (const path of (await modules()).filter((p) => !isTest(p))) {
    graph.set(path, (await importsOf(path)).filter((t) => !isTest(t)));
  }
  const found: string[] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") {
        found.push([...stack.slice(stack.indexOf(next)), next].join(" -> "));
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return found;
}

Deno.test("every import in proxy/ follows the layer order", async () => {
  assert.deepEqual(await violations(), []);
});

Deno.test("no import cycles in proxy/", async () => {
  assert.deepEqual(await cycles(), []);
});
