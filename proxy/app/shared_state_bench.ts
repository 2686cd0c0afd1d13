/**
 * What the state shared across worker isolates costs per request, against the same state kept
 * in one isolate: `deno bench -A proxy/app/shared_state_bench.ts [-- --contended]`.
 *
 * - "pick": reading a server's health and ejection as every selection does (`available()`),
 *   for 4 servers;
 * - "admit": counting one connection in and out under an entrypoint limit (once per
 *   connection, not per request);
 * - "bucket": one token-bucket step in the counter store (a rate-limited request);
 * With `-- --contended` another worker isolate hammers the same shared memory meanwhile.
 *
 * @module
 */
import { LocalConnectionCounts, SharedConnectionCounts } from "../net/connection_counts.ts";
import { CounterStore } from "../net/shared_counters.ts";
import { LocalServerCell, ServerTable } from "../upstream/server_cells.ts";
import { UpstreamServer } from "../upstream/server_state.ts";
import { APP_REF } from "../testing/shared_state.ts";

const table = ServerTable.create(64);
const shared = [0, 1, 2, 3].map(() => new UpstreamServer(APP_REF, table.cell(table.allocate())));
const local = [0, 1, 2, 3].map(() => new UpstreamServer(APP_REF, new LocalServerCell()));
const localCounts = new LocalConnectionCounts();
const sharedCounts = SharedConnectionCounts.create(8);
sharedCounts.use(sharedCounts.assign(["web"]));
const localStore = CounterStore.local({ entries: 65_536 });
const sharedStore = CounterStore.shared({ entries: 65_536 });

function pick(servers: readonly UpstreamServer[]): number {
  const now = Date.now();
  let up = 0;
  for (const s of servers) if (s.available(now)) up++;
  return up;
}

function bucket(store: CounterStore, key: string): number {
  const now = Date.now();
  return store.update(key, now, (e) => {
    const tat = Math.max(e.get(0), now);
    if (tat - now > 1000) return tat - now - 1000;
    e.set(0, tat + 0.001);
    e.expires = tat + 0.001;
    return 0;
  });
}

let n = 0;
Deno.bench("pick, local cells", { group: "pick", baseline: true }, () => void pick(local));
Deno.bench("pick, shared cells", { group: "pick" }, () => void pick(shared));
Deno.bench("admit, local counts", { group: "admit", baseline: true }, () => {
  localCounts.tryAdd("web", 0, 1_000_000);
  localCounts.remove("web");
});
Deno.bench("admit, shared counts", { group: "admit" }, () => {
  sharedCounts.tryAdd("web", 0, 1_000_000);
  sharedCounts.remove("web");
});
Deno.bench("bucket, local store", { group: "bucket", baseline: true }, () => {
  bucket(localStore, `10.0.${n++ & 255}.1`);
});
Deno.bench("bucket, shared store", { group: "bucket" }, () => {
  bucket(sharedStore, `10.0.${n++ & 255}.1`);
});

/** Another isolate updating the same shared memory for as long as the benchmarks run. */
if (Deno.args.includes("--contended")) {
  const hammer = new Worker(
    `data:text/javascript,${
      encodeURIComponent(`
    self.onmessage = (e) => {
      const { counts, store, servers } = e.data;
      const c = new Int32Array(counts);
      const s = new Int32Array(servers);
      const lock = new Int32Array(store, 0, 2);
      self.postMessage("running");
      for (;;) {
        Atomics.add(c, 1, 1); Atomics.sub(c, 1, 1);
        Atomics.load(s, 1);
        while (Atomics.compareExchange(lock, 0, 0, 1) !== 0);
        Atomics.store(lock, 0, 0);
      }
    };`)
    }`,
    { type: "module" },
  );
  await new Promise((resolve) => {
    hammer.onmessage = resolve;
    hammer.postMessage({
      counts: sharedCounts.buffer,
      store: sharedStore.buffer,
      servers: table.buffer,
    });
  });
  globalThis.addEventListener("unload", () => hammer.terminate());
}
