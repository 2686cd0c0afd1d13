import assert from "node:assert/strict";
import type { PassiveHealth } from "../config/types.ts";
import { APP_REF as REF, stateWorker } from "../testing/shared_state.ts";
import { waitFor } from "../testing/servers.ts";
import { ServerTable } from "./server_cells.ts";
import { UpstreamServer } from "./server_state.ts";

const PASSIVE: PassiveHealth = { maxFailures: 3, window: 10_000, ejectFor: 60_000 };

Deno.test("a server ejected in one worker is ejected in the others and in the main isolate", async () => {
  const table = ServerTable.create(16);
  const slot = table.allocate();
  using a = stateWorker();
  using b = stateWorker();
  const here = new UpstreamServer(REF, table.cell(slot));
  assert.equal(await b.ask({ op: "available", servers: table.buffer, slot }), true);
  assert.equal(
    await a.ask({ op: "fail", servers: table.buffer, slot, times: 2, passive: PASSIVE }),
    true,
    "two failures of three: still in",
  );
  assert.equal(
    await a.ask({ op: "fail", servers: table.buffer, slot, times: 1, passive: PASSIVE }),
    false,
    "the third ejects it",
  );
  assert.equal(await b.ask({ op: "available", servers: table.buffer, slot }), false);
  assert.equal(here.available(Date.now()), false);
  assert.ok(here.ejectedUntil > Date.now() + 50_000);
  assert.equal(here.available(Date.now(), true), true, "panic routing may still use it");
});

Deno.test("after an ejection anywhere, one failure in any isolate ejects again", async () => {
  const table = ServerTable.create(16);
  const slot = table.allocate();
  using worker = stateWorker();
  const short: PassiveHealth = { maxFailures: 3, window: 10_000, ejectFor: 500 };
  const here = new UpstreamServer(REF, table.cell(slot));
  await worker.ask({ op: "fail", servers: table.buffer, slot, times: 3, passive: short });
  assert.equal(here.available(Date.now()), false);
  await waitFor(() => here.available(Date.now()), "the ejection to end");
  here.recordFailure(short, Date.now());
  assert.equal(here.available(Date.now()), false, "on probation: one failure is enough");
  await waitFor(() => here.available(Date.now()), "the second ejection to end");
  here.recordSuccess();
  here.recordFailure(short, Date.now());
  assert.equal(here.available(Date.now()), true, "a success ended probation");
});

Deno.test("health set by the main isolate is seen by workers; a new slot starts healthy", async () => {
  const table = ServerTable.create(2);
  const slot = table.allocate();
  using worker = stateWorker();
  const main = new UpstreamServer(REF, table.cell(slot));
  assert.equal(main.setHealthy(false), true);
  assert.equal(await worker.ask({ op: "available", servers: table.buffer, slot }), false);
  main.setHealthy(true);
  assert.equal(await worker.ask({ op: "available", servers: table.buffer, slot }), true);
  main.setHealthy(false);
  table.release(slot);
  const other = table.allocate();
  assert.notEqual(other, slot, "a released slot is reused only when no fresh one is left");
  const reused = table.allocate();
  assert.equal(reused, slot);
  assert.equal(new UpstreamServer(REF, table.cell(reused)).isUp(), true);
  assert.throws(() => table.allocate(), /all 2 server slots are in use/);
});
