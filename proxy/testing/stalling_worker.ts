/**
 * A Gatehouse worker isolate (app/worker.ts) that, when it is worker 1, stops turning its event
 * loop for 8 s at the first heartbeat it is sent: what an endless loop in the data path would do.
 * For the heartbeat test in app/workers_test.ts. Not endless: Deno cannot end a worker that is
 * running JavaScript, and `deno test --parallel` runs test files in one process, so a worker
 * that spun forever would hold a core for the rest of the suite.
 *
 * @module
 */
import "../app/worker.ts";

const SPIN_MS = 8_000;

self.addEventListener("message", (e: MessageEvent) => {
  if (self.name !== "gatehouse-worker-1" || e.data?.op !== "ping") return;
  const until = performance.now() + SPIN_MS;
  while (performance.now() < until) continue;
});
