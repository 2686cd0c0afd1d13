import assert from "node:assert/strict";
import { LogThrottle } from "./log_throttle.ts";

Deno.test("LogThrottle: the first event is due, those within the interval are counted for the next line", () => {
  const t = new LogThrottle(60_000);
  assert.equal(t.count(), true, "the first line is due at once");
  t.logged();
  assert.equal(t.count(), false);
  assert.equal(t.count(), false);
  assert.equal(t.since, 2, "counted for the next line");
  assert.equal(t.ever, 3);
});

Deno.test("LogThrottle: with no interval every event is due, and logged() starts the count again", () => {
  const t = new LogThrottle(0);
  for (let i = 0; i < 3; i++) {
    assert.equal(t.count(), true);
    assert.equal(t.since, 1);
    t.logged();
  }
  assert.equal(t.ever, 3);
});
