import assert from "node:assert/strict";
import { LocalLimitTable } from "./limit_store.ts";

const rate = { intervalMs: 100, burst: 3 };

Deno.test("a bucket lets `burst` through at once, then one per interval", () => {
  const t = new LocalLimitTable(10);
  const now = 1_000_000;
  assert.deepEqual(t.take("a", rate, now), { ok: true, remaining: 2, waitMs: 0, fullInMs: 100 });
  assert.equal(t.take("a", rate, now).remaining, 1);
  assert.equal(t.take("a", rate, now).remaining, 0);
  assert.deepEqual(t.take("a", rate, now), { ok: false, remaining: 0, waitMs: 100, fullInMs: 300 });
  assert.deepEqual(t.peek("a", rate, now + 50), {
    ok: false,
    remaining: 0,
    waitMs: 50,
    fullInMs: 250,
  });
  assert.equal(t.take("a", rate, now + 100).ok, true);
  assert.equal(t.take("a", rate, now + 100).ok, false);
  // Other keys have buckets of their own.
  assert.equal(t.take("b", rate, now).remaining, 2);
  // Long idle: full again.
  assert.equal(t.take("a", rate, now + 10_000).remaining, 2);
  t.close();
});

Deno.test("in-flight counts: at most max per key, released one by one", () => {
  const t = new LocalLimitTable(10);
  assert.equal(t.acquire("a", 2), true);
  assert.equal(t.acquire("a", 2), true);
  assert.equal(t.acquire("a", 2), false);
  assert.equal(t.acquire("b", 2), true);
  t.release("a");
  assert.equal(t.acquire("a", 2), true);
  t.release("a");
  t.release("a");
  t.release("b");
  assert.equal(t.size, 0);
  t.close();
});

Deno.test("a flood of new keys keeps the table and RSS bounded", async () => {
  // In a process of its own, to collect garbage before each RSS reading.
  const script = `
    import { LocalLimitTable } from ${
    JSON.stringify(new URL("./limit_store.ts", import.meta.url).href)
  };
    const slow = { intervalMs: 60_000, burst: 5 };
    const usage = () => { gc(); gc(); return Deno.memoryUsage(); };
    const t = new LocalLimitTable(2_000);
    const now = Date.now();
    const flood = (from, n) => {
      let max = 0;
      for (let i = from; i < from + n; i++) {
        t.take("flood-" + i, slow, now);
        if (t.size > max) max = t.size;
      }
      return max;
    };
    // The first flood lets the heap reach its working size; the second must not grow it.
    flood(0, 400_000);
    const before = usage();
    const max = flood(400_000, 800_000);
    const after = usage();
    const mib = (key) => (after[key] - before[key]) / 2 ** 20;
    console.log(JSON.stringify({ max, rss: mib("rss"), heap: mib("heapUsed") }));
    t.close();
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--expose-gc", script],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(out.success);
  const { max, rss, heap } = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.ok(max <= 2_000, `the table held ${max} keys`);
  // Unbounded, the 800,000 keys hold 64 MiB of heap and grow RSS by about 90 MiB (measured).
  // Bounded, the heap in use stays flat; RSS still grows some, because V8 keeps the pages that
  // the discarded generations used committed after collecting them.
  assert.ok(heap < 4, `the heap in use grew ${heap.toFixed(1)} MiB`);
  assert.ok(rss < 48, `RSS grew ${rss.toFixed(1)} MiB`);
});
