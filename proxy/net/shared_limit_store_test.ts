import assert from "node:assert/strict";
import { stateWorker, together } from "../testing/shared_state.ts";
import { LocalLimitTable, type Rate } from "./limit_store.ts";
import { CounterStore } from "./shared_counters.ts";
import { SharedLimitStore } from "./shared_limit_store.ts";

const T = 1_000_000;
const rate: Rate = { intervalMs: 100, burst: 3 };

Deno.test("shared limit table: the same answers as the local table, step by step", () => {
  const shared = new SharedLimitStore(CounterStore.local({ entries: 64 })).table("p#1", 100);
  const local = new LocalLimitTable(100);
  const steps: [string, string, number][] = [
    ["take", "a", T],
    ["take", "a", T],
    ["peek", "a", T + 10],
    ["take", "a", T],
    ["take", "a", T],
    ["peek", "a", T + 50],
    ["take", "a", T + 100],
    ["take", "a", T + 100],
    ["take", "b", T],
    ["peek", "c", T],
    ["take", "a", T + 10_000],
  ];
  for (const [op, key, now] of steps) {
    const want = op === "take" ? local.take(key, rate, now) : local.peek(key, rate, now);
    const got = op === "take" ? shared.take(key, rate, now) : shared.peek(key, rate, now);
    assert.deepEqual(got, want, `${op} ${key} at +${now - T} ms`);
  }
  for (
    const [op, max] of [["acquire", 2], ["acquire", 2], ["acquire", 2], ["release", 0]] as const
  ) {
    const want = op === "acquire" ? local.acquire("a", max) : local.release("a");
    const got = op === "acquire" ? shared.acquire("a", max) : shared.release("a");
    assert.equal(got, want, `${op}`);
  }
  local.close();
  shared.close();
});

Deno.test("shared limit table: partitions are apart; the same partition is the same state", () => {
  const counters = CounterStore.local({ entries: 64 });
  const one = new SharedLimitStore(counters).table("login#0000aaaa", 100);
  const other = new SharedLimitStore(counters).table("login#0000bbbb", 100);
  const again = new SharedLimitStore(counters).table("login#0000aaaa", 100);
  const slow = { intervalMs: 60_000, burst: 1 };
  assert.equal(one.take("ip", slow, T).ok, true);
  assert.equal(one.take("ip", slow, T).ok, false);
  assert.equal(other.take("ip", slow, T).ok, true, "another definition starts afresh");
  assert.equal(again.take("ip", slow, T).ok, false, "the same definition finds its bucket");
});

Deno.test("shared limit table: releases never go below 0, and a closed table still releases", () => {
  const store = new SharedLimitStore(CounterStore.local({ entries: 64 }));
  const t = store.table("one#1", 0);
  t.release("a");
  assert.equal(t.acquire("a", 1), true);
  assert.equal(t.acquire("a", 1), false, "the stray release did not make room");
  t.close();
  t.release("a");
  assert.equal(store.table("one#1", 0).acquire("a", 1), true, "released after close");
});

Deno.test("shared limit table: a flood of keys evicts idle buckets, not counts in flight", () => {
  const counters = CounterStore.local({ entries: 64 });
  const bytes = counters.buffer.byteLength;
  const t = new SharedLimitStore(counters).table("p#1", 0);
  assert.equal(t.acquire("busy", 1), true);
  const now = Date.now();
  const slow = { intervalMs: 3_600_000, burst: 5 };
  for (let i = 0; i < 100_000; i++) t.take(`flood-${i}`, slow, now);
  assert.equal(counters.buffer.byteLength, bytes);
  assert.equal(t.acquire("busy", 1), false, "the count in flight was kept");
  t.release("busy");
  assert.equal(t.acquire("busy", 1), true);
});

Deno.test("shared limit table across two workers: racing takes pass exactly `burst` times", async () => {
  const counters = CounterStore.shared({ entries: 256 });
  using a = stateWorker();
  using b = stateWorker();
  const passed = await together<number>([a, b], {
    op: "take",
    store: counters.buffer,
    cells: counters.cells,
    partition: "login#1",
    key: "203.0.113.7",
    times: 100_000,
    rate: { intervalMs: 3_600_000, burst: 50_000 },
  });
  // Which worker got how many is the scheduler's choice; together, exactly the burst.
  assert.equal(passed[0] + passed[1], 50_000, `passed: ${passed}`);
  const table = new SharedLimitStore(counters).table("login#1", 0);
  assert.equal(
    table.peek("203.0.113.7", { intervalMs: 3_600_000, burst: 50_000 }, Date.now()).ok,
    false,
  );
});

Deno.test("shared limit table across two workers: racing acquires stop at `max`, releases free them", async () => {
  const counters = CounterStore.shared({ entries: 256 });
  using a = stateWorker();
  using b = stateWorker();
  const base = { store: counters.buffer, cells: counters.cells, partition: "one#1", key: "k" };
  const got = await together<number>([a, b], {
    ...base,
    op: "acquire",
    times: 100_000,
    max: 50_000,
  });
  assert.equal(got[0] + got[1], 50_000, `acquired: ${got}`);
  // Each worker ends what it acquired; then the whole `max` fits again, and no more.
  await Promise.all([
    a.ask({ ...base, op: "release", times: got[0] }),
    b.ask({ ...base, op: "release", times: got[1] }),
  ]);
  const table = new SharedLimitStore(counters).table("one#1", 0);
  let again = 0;
  for (let i = 0; i < 60_000; i++) again += table.acquire("k", 50_000) ? 1 : 0;
  assert.equal(again, 50_000);
});
