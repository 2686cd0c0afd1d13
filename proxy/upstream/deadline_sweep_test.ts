import assert from "node:assert/strict";
import { monotonicNow } from "../clock.ts";
import { DeadlineSweep, type Expiring } from "./deadline_sweep.ts";

function item(deadline: number) {
  const it = { deadline, expired: 0, expire: () => void it.expired++ } satisfies Expiring & {
    expired: number;
  };
  return it;
}

Deno.test("a sweep expires what passed its deadline, once, and stops its timer when nothing is left", () => {
  const sweep = new DeadlineSweep();
  const due = item(1000);
  const later = item(5000);
  const none = item(0);
  for (const it of [due, later, none]) sweep.add(it);
  assert.ok(sweep.running);
  sweep.sweep(999);
  assert.equal(due.expired, 0);
  sweep.sweep(1000);
  sweep.sweep(1001);
  assert.deepEqual([due.expired, later.expired, none.expired], [1, 0, 0]);
  assert.equal(sweep.size, 2);
  sweep.delete(later);
  sweep.delete(none);
  sweep.sweep(10_000);
  assert.equal(later.expired, 0, "expired after delete");
  assert.ok(!sweep.running, "the timer runs with nothing to watch");
});

Deno.test("the sweep's own timer expires a deadline within a sweep of it", async () => {
  const sweep = new DeadlineSweep();
  const started = monotonicNow();
  const it = item(started + 150);
  sweep.add(it);
  while (it.expired === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  const late = monotonicNow() - (started + 150);
  assert.ok(late >= 0 && late < 1000, `expired ${late.toFixed(0)} ms after its deadline`);
  assert.ok(!sweep.running);
});
