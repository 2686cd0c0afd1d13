/**
 * A Gatehouse worker isolate (app/worker.ts) that, when it is worker 1, stops turning its event
 * loop for 8 s at the first message of the kind its URL names: `?at=ping` (a heartbeat) or
 * `?at=start` (its start). What an endless loop in the data path, or in a start, would do.
 * For the stall tests in app/workers_test.ts. Not endless: Deno cannot end a worker that is
 * running JavaScript, and `deno test --parallel` runs test files in one process, so a worker
 * that spun forever would hold a core for the rest of the suite.
 *
 * @module
 */
import "../app/worker.ts";

const SPIN_MS = 8_000;
const AT = new URL(import.meta.url).searchParams.get("at");

let spun = false;
self.addEventListener("message", (e: MessageEvent) => {
  if (spun || self.name !== "gatehouse-worker-1" || e.data?.op !== AT) return;
  spun = true;
  const until = performance.now() + SPIN_MS;
  while (performance.now() < until) continue;
});
