/**
 * Gives memory a burst of load left behind back to the system, for app/idle_release.ts to call
 * when an isolate has gone quiet. Two steps, each through something Deno has no API for:
 *
 * - V8 keeps its young generation at the size the load grew it to (the semi-spaces reached 64
 *   MiB under `h2load -c50 -m10`) and its old generation's free pages; a full collection of the
 *   "last resort" flavour (`gc()` with `--expose-gc`, V8_FLAGS) shrinks both. A regular full
 *   collection shrinks neither (measured: heapTotal 89 -> 85 MiB, against 87 -> 14 MiB).
 * - glibc keeps what was freed in its arenas; `malloc_trim(0)` returns it (after the collection:
 *   RSS 123 -> 86 MiB, the process's idle figure). Loaded on its own, so that a C library
 *   without it (musl) leaves libc.ts's other symbols working.
 *
 * After an 8 s `h2load -c50 -m10` run, RSS went from 191 to 86 MiB (idle before: 86); the
 * collection took 81 ms on the one thread of the isolate, which is why it only runs when the
 * isolate is quiet. internal_memory_release_test.ts fails when a Deno upgrade stops either step.
 *
 * @module
 */
import { libcPath } from "./libc.ts";

type CollectOptions = { type: "major"; execution: "sync"; flavor: "last-resort" };

/** V8's `gc` extension, present when the isolate was started with `--expose-gc`. */
function collector(): ((options: CollectOptions) => void) | null {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === "function" ? gc as (options: CollectOptions) => void : null;
}

let trim: (() => number) | null | undefined;

/** glibc's malloc_trim, or null when it cannot be loaded (not allowed, not glibc). */
function mallocTrim(): (() => number) | null {
  if (trim !== undefined) return trim;
  trim = null;
  if (Deno.build.os !== "linux") return trim;
  for (const path of libcPath()) {
    if (Deno.permissions.querySync({ name: "ffi", path }).state !== "granted") continue;
    try {
      const lib = Deno.dlopen(path, {
        malloc_trim: { parameters: ["usize"], result: "i32" },
      });
      trim = () => lib.symbols.malloc_trim(0n);
      break;
    } catch {
      // not this path, or no malloc_trim in this C library
    }
  }
  return trim;
}

/** What the isolate could do: collect (V8) and trim (glibc). */
export function releaseAbilities(): { collect: boolean; trim: boolean } {
  return { collect: collector() !== null, trim: mallocTrim() !== null };
}

/** Collects V8's garbage and shrinks its heap, where the isolate has `gc` (V8_FLAGS). */
export function collectGarbage(): void {
  collector()?.({ type: "major", execution: "sync", flavor: "last-resort" });
}

/** Returns what glibc's arenas hold free to the system, where malloc_trim can be loaded. */
export function trimArenas(): void {
  mallocTrim()?.();
}

/**
 * Both, `TRIM_AFTER_MS` apart (resolves with how long the collection stopped the isolate): V8 frees the buffers a collection found dead on another thread
 * after it, and a trim right away finds them still held (measured: RSS 110 MiB after the
 * collection settled, 51 after a trim then; a trim at once left most of it).
 */
export async function releaseMemory(): Promise<{ pauseMs: number }> {
  const started = performance.now();
  collectGarbage();
  const pauseMs = performance.now() - started;
  await new Promise((resolve) => setTimeout(resolve, TRIM_AFTER_MS));
  trimArenas();
  return { pauseMs };
}

const TRIM_AFTER_MS = 500;
