/**
 * releaseMemory (memory_release.ts) in a process started with production's V8 flags: when a Deno
 * upgrade drops V8's gc extension, its "last resort" flavour, or malloc_trim, these fail.
 */
import assert from "node:assert/strict";
import { V8_FLAGS_ARG } from "./v8_flags.ts";
import { libcPath } from "./libc.ts";

const MODULE = new URL("./memory_release.ts", import.meta.url).href;
const MIB = 1024 * 1024;

/** Grows V8's heap and buffers with garbage, then releases; prints what it saw. */
const SCRIPT = `
import { collectGarbage, releaseAbilities, releaseMemory, trimArenas } from "${MODULE}";
// Objects for V8's heap; 16 KiB buffers for glibc's arenas, every 64th kept so that what is
// freed lies between live chunks, where only malloc_trim returns it.
let keep = [];
const live = [];
for (let round = 0; round < 20; round++) {
  keep = Array.from({ length: 100_000 }, (_, i) => ({ i, s: "x".repeat(32) + i }));
  for (let i = 0; i < 512; i++) {
    const buffer = new Uint8Array(16 * 1024).fill(i);
    if (i % 64 === 0) live.push(buffer); else keep.push(buffer);
  }
}
keep = [];
const settle = () => new Promise((resolve) => setTimeout(resolve, 500));
const before = Deno.memoryUsage();
// Each step alone, settled, to tell what each gives back; then both as Gatehouse runs them.
collectGarbage();
await settle();
const collected = Deno.memoryUsage();
trimArenas();
const trimmed = Deno.memoryUsage();
await releaseMemory();
console.log(JSON.stringify({ abilities: releaseAbilities(), before, collected, trimmed, live: live.length }));
`;

Deno.test("releaseMemory shrinks V8's heap and trims glibc's arenas under production's flags", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", V8_FLAGS_ARG, `--allow-ffi=${libcPath().join(",")}`, SCRIPT],
    stderr: "inherit",
  }).output();
  assert.ok(out.success, "the script ran");
  const { abilities, before, collected, trimmed } = JSON.parse(
    new TextDecoder().decode(out.stdout),
  );
  assert.deepEqual(abilities, { collect: true, trim: true });
  const mib = (n: number) => `${(n / MIB).toFixed(1)} MiB`;
  assert.ok(
    collected.heapTotal < before.heapTotal / 2,
    `V8's heap: ${mib(before.heapTotal)} -> ${mib(collected.heapTotal)}`,
  );
  const rss = `RSS ${mib(before.rss)}, collected ${mib(collected.rss)}, trimmed ${
    mib(trimmed.rss)
  }`;
  assert.ok(collected.rss < before.rss - 64 * MIB, rss);
  assert.ok(trimmed.rss < collected.rss - 16 * MIB, rss);
});

Deno.test("without --expose-gc there is nothing to collect with, and releaseMemory still runs", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", `--allow-ffi=${libcPath().join(",")}`, SCRIPT],
    stderr: "inherit",
  }).output();
  assert.ok(out.success, "the script ran");
  const { abilities } = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.deepEqual(abilities, { collect: false, trim: true });
});
