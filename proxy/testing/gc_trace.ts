/**
 * Reading V8's `--trace-gc-nvp` output (one JSON object per collection, on stdout), for the tests
 * and repros that measure what young collections promote.
 *
 * @module
 */

/** Bytes allocated and promoted, summed over the young collections ("s") traced in `trace`. */
export function youngCollections(trace: string): { allocated: number; promoted: number } {
  let allocated = 0;
  let promoted = 0;
  // A process still running may be mid-line: only complete lines count.
  for (const line of trace.slice(0, trace.lastIndexOf("\n")).split("\n")) {
    const at = line.indexOf('{"pause"');
    if (at < 0) continue;
    const gc = JSON.parse(line.slice(at)) as { gc: string; allocated: number; promoted: number };
    if (gc.gc !== "s") continue;
    allocated += gc.allocated;
    promoted += gc.promoted;
  }
  return { allocated, promoted };
}
