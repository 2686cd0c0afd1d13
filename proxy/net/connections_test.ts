import assert from "node:assert/strict";
import {
  armWrite,
  ConnectionRegistry,
  disarmWrite,
  DRAIN_GRACE_MS,
  TrackedConnection,
} from "./connections.ts";
import { LocalLimitTable } from "./limit_store.ts";

Deno.test("drain: idle connections close at once, a busy one at the deadline; none left", async () => {
  const registry = new ConnectionRegistry();
  const closed: string[] = [];
  const track = (name: string, state: "idle" | "active") => {
    const c = new TrackedConnection("web", "http", () => {
      closed.push(name);
      registry.delete(c);
    });
    c.state = state;
    registry.add(c);
    return c;
  };
  track("idle", "idle");
  const busy = track("busy", "active");
  let drained = false;
  busy.onDrain = () => drained = true;
  const left = await registry.drain(200);
  assert.equal(left, 0);
  assert.deepEqual(closed, ["idle", "busy"]);
  assert.ok(drained, "the busy connection was told to drain");
  assert.ok(registry.draining);
});

Deno.test("drain: a connection that never finishes closing does not hold shutdown forever", async () => {
  const registry = new ConnectionRegistry();
  let closes = 0;
  const stuck = new TrackedConnection("web", "http", () => closes++);
  stuck.state = "active";
  registry.add(stuck);
  const started = Date.now();
  const left = await registry.drain(100);
  assert.equal(left, 1);
  assert.equal(closes, 1, "the deadline closed it once");
  assert.ok(Date.now() - started >= 100 + DRAIN_GRACE_MS - 50, "gave up before the grace ended");
  registry.delete(stuck);
});

Deno.test("sweep: runs a connection's onSweep once, and not for one it closes", () => {
  const registry = new ConnectionRegistry();
  const runs: string[] = [];
  const open = new TrackedConnection("web", "http", () => {});
  open.onSweep = () => runs.push("open");
  const expired = new TrackedConnection("web", "http", () => registry.delete(expired));
  expired.deadline = 1;
  expired.onSweep = () => runs.push("expired");
  registry.add(open);
  registry.add(expired);
  registry.sweep(Date.now());
  registry.sweep(Date.now());
  assert.deepEqual(runs, ["open"]);
  assert.equal(open.onSweep, null);
  registry.delete(open);
});

Deno.test("a write under way gets its deadline at the next sweep and closes the connection past it", () => {
  const registry = new ConnectionRegistry();
  let closed = false;
  const c = new TrackedConnection("web", "http", () => closed = true);
  c.state = "active";
  c.writeIdleMs = 1000;
  registry.add(c);
  try {
    armWrite(c);
    assert.equal(c.writeDeadline, -1, "marked, no clock read");
    registry.sweep(10_000);
    assert.equal(c.writeDeadline, 11_000);
    registry.sweep(10_999);
    assert.ok(!closed);
    disarmWrite(c);
    registry.sweep(20_000);
    assert.ok(!closed, "a write that completed holds no deadline");
    armWrite(c);
    registry.sweep(30_000);
    registry.sweep(31_000);
    assert.ok(closed, "a write that took no byte for writeIdleMs");
    const unbounded = new TrackedConnection("web", "http", () => {});
    armWrite(unbounded);
    assert.equal(unbounded.writeDeadline, 0, "writeIdleMs 0: no bound");
  } finally {
    registry.delete(c);
  }
});

Deno.test("per client: a client past its limit is refused and takes no place; a close frees one", () => {
  const registry = new ConnectionRegistry(undefined, new LocalLimitTable(16));
  const open = (client: string) => {
    const hit = registry.admit("web", 10, 0, client, 2);
    if (hit !== null) return hit;
    const conn = new TrackedConnection("web", "http", () => {});
    registry.add(conn);
    return conn;
  };
  const a1 = open("10.0.0.1");
  const a2 = open("10.0.0.1");
  assert.equal(open("10.0.0.1"), "client");
  assert.equal(registry.count(), 2, "the refused connection took back its place");
  assert.ok(open("10.0.0.2") instanceof TrackedConnection, "another client is admitted");
  assert.ok(a1 instanceof TrackedConnection && a2 instanceof TrackedConnection);
  registry.delete(a1);
  assert.ok(open("10.0.0.1") instanceof TrackedConnection, "a close frees a place of its client");
  assert.equal(open("10.0.0.1"), "client");
  // No address (a unix socket's peer), or no per-client limit: not counted per client.
  assert.equal(registry.admit("web", 10, 0, null, 2), null);
  registry.add(new TrackedConnection("web", "http", () => {}));
  assert.equal(registry.admit("web", 10, 0, "10.0.0.1", 0), null);
  registry.add(new TrackedConnection("web", "http", () => {}));
  // The total limit still comes first.
  assert.equal(registry.count(), 5);
  assert.equal(registry.admit("web", 5, 0, "10.0.0.3", 2), "total");
});
