import assert from "node:assert/strict";
import { stateWorker, together } from "../testing/shared_state.ts";
import { CounterStore } from "./shared_counters.ts";

const T = 1_000_000;

/** One GCRA token bucket step (the module doc's example): ms to wait, 0 = allowed. */
function take(store: CounterStore, key: string, now: number, interval: number, burst: number) {
  return store.update(key, now, (e) => {
    const tat = Math.max(e.get(0), now);
    const allowance = (burst - 1) * interval;
    if (tat - now > allowance) return tat - now - allowance;
    e.set(0, tat + interval);
    e.expires = tat + interval;
    return 0;
  });
}

Deno.test("counter store: a new key's cells are 0 and keep what update wrote", () => {
  const store = CounterStore.local({ entries: 64, cells: 2 });
  assert.equal(store.capacity, 64);
  const seen = store.update("a", T, (e) => {
    const fresh = [e.get(0), e.get(1), e.expires];
    e.set(0, 5);
    e.set(1, -1.5);
    e.expires = T + 1000;
    return fresh;
  });
  assert.deepEqual(seen, [0, 0, 0]);
  assert.deepEqual(store.update("a", T, (e) => [e.get(0), e.get(1), e.expires]), [
    5,
    -1.5,
    T + 1000,
  ]);
  assert.deepEqual(store.update("b", T, (e) => e.get(0)), 0, "another key, another entry");
});

Deno.test("counter store: a token bucket allows the burst, then one per interval", () => {
  const store = CounterStore.local({ entries: 64 });
  const waits = Array.from({ length: 5 }, () => take(store, "ip", T, 100, 3));
  assert.deepEqual(waits, [0, 0, 0, 100, 100]);
  assert.equal(take(store, "ip", T + 100, 100, 3), 0);
  assert.equal(take(store, "ip", T + 100, 100, 3), 100);
  assert.equal(take(store, "other", T, 100, 3), 0);
});

Deno.test("counter store: a flood of keys never grows memory and evicts what expires first", () => {
  const store = CounterStore.local({ entries: 1024 });
  const bytes = store.buffer.byteLength;
  store.update("long-lived", T, (e) => {
    e.set(0, 42);
    e.expires = T + 3_600_000;
  });
  for (let i = 0; i < 100_000; i++) {
    store.update(`flood-${i}`, T, (e) => {
      e.set(0, 1);
      e.expires = T + 1000;
    });
  }
  assert.equal(store.buffer.byteLength, bytes);
  assert.equal(store.update("long-lived", T, (e) => e.get(0)), 42);
  const later = T + 2000;
  assert.equal(store.update("flood-99999", later, (e) => e.get(0)), 1, "kept until reused");
  assert.equal(store.update("long-lived", later, (e) => e.get(0)), 42);
});

Deno.test("counter store shared by two workers: 2 x 500,000 racing increments make 1,000,000", async () => {
  const store = CounterStore.shared({ entries: 256, cells: 1 });
  using a = stateWorker();
  using b = stateWorker();
  const last = await together<number>([a, b], {
    op: "count",
    store: store.buffer,
    cells: 1,
    key: "hits",
    times: 500_000,
  });
  assert.equal(Math.max(...last), 1_000_000);
  assert.equal(store.update("hits", Date.now(), (e) => e.get(0)), 1_000_000);
});
