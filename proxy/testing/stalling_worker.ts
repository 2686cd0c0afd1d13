/**
 * A Gatehouse worker isolate (app/worker.ts) that, when it is worker 1, stops turning its event
 * loop at the first heartbeat it is sent: what an endless loop in the data path would do. For
 * the heartbeat test in app/workers_test.ts.
 *
 * @module
 */
import "../app/worker.ts";

let spins = 0;

self.addEventListener("message", (e: MessageEvent) => {
  if (self.name !== "gatehouse-worker-1" || e.data?.op !== "ping") return;
  while (spins >= 0) spins++;
});
