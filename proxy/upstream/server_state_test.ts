import assert from "node:assert/strict";
import { UpstreamServer } from "./server_state.ts";

const server = () =>
  new UpstreamServer({ url: "http://a:80", scheme: "http", hostname: "a", port: 80, weight: 1 });

Deno.test("an in-flight lease counts once however often it is released", () => {
  const s = server();
  const a = s.acquire();
  const b = s.acquire();
  assert.equal(s.inflight, 2);
  a.release();
  a.release();
  assert.equal(a.held, false);
  assert.equal(s.inflight, 1);
  b.release();
  assert.equal(s.inflight, 0);
});

Deno.test("passive ejection after max_failures within the window; one failure on probation", () => {
  const s = server();
  const passive = { maxFailures: 2, window: 10_000, ejectFor: 1_000 };
  s.recordFailure(passive, 0);
  assert.equal(s.available(1), true);
  s.recordFailure(passive, 1);
  assert.equal(s.available(2), false);
  assert.equal(s.available(2, true), true);
  assert.equal(s.available(1_002), true);
  // Back from ejection: the first failure ejects again at once.
  s.recordFailure(passive, 1_100);
  assert.equal(s.available(1_101), false);
  // A success ends probation.
  s.recordSuccess();
  s.recordFailure(passive, 3_000);
  assert.equal(s.available(3_001), true);
  // Failures outside the window do not add up.
  s.recordFailure(passive, 20_000);
  assert.equal(s.available(20_001), true);
});
