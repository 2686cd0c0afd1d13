import assert from "node:assert/strict";
import { stateWorker, together } from "../testing/shared_state.ts";
import { LocalConnectionCounts, SharedConnectionCounts } from "./connection_counts.ts";

Deno.test("local counts: limits in all and per owner refuse without counting", () => {
  const counts = new LocalConnectionCounts();
  assert.equal(counts.tryAdd("web", 3, 2), null);
  assert.equal(counts.tryAdd("web", 3, 2), null);
  assert.equal(counts.tryAdd("web", 3, 2), "owner");
  assert.equal(counts.tryAdd("api", 3, 0), null);
  assert.equal(counts.tryAdd("api", 3, 0), "total");
  assert.deepEqual([counts.total(), counts.count("web"), counts.count("api")], [3, 2, 1]);
  counts.remove("web");
  counts.remove("nobody");
  assert.deepEqual([counts.total(), counts.count("web")], [2, 1]);
});

Deno.test("shared counts: two workers racing for 150,000 places admit exactly 150,000", async () => {
  const counts = SharedConnectionCounts.create(8);
  const slots = counts.assign(["web", "api"]);
  using a = stateWorker();
  using b = stateWorker();
  const max = 150_000;
  const [x, y] = await together<number>([a, b], {
    op: "admit",
    counts: counts.buffer,
    slots,
    owner: "web",
    tries: 100_000,
    maxOwner: max,
  });
  assert.equal(x + y, max);
  assert.deepEqual([counts.count("web"), counts.total()], [max, max]);
  assert.equal(counts.tryAdd("web", 0, max), "owner");
  assert.equal(counts.tryAdd("api", max, 0), "total");
});

Deno.test("shared counts: names keep their slot; a gone name's empty slot is reused when full", () => {
  const counts = SharedConnectionCounts.create(2);
  assert.deepEqual(counts.assign(["web", "api"]), { web: 1, api: 2 });
  assert.equal(counts.tryAdd("web", 0, 0), null);
  assert.equal(counts.tryAdd("api", 0, 0), null);
  assert.deepEqual(counts.assign(["api", "web"]), { web: 1, api: 2 });
  assert.throws(() => counts.assign(["web", "tcp"]), /all 2 entrypoint slots are in use/);
  counts.remove("api");
  assert.deepEqual(counts.assign(["web", "tcp"]), { web: 1, tcp: 2 });
  const worker = new SharedConnectionCounts(counts.buffer);
  worker.use({ web: 1, api: 2 });
  worker.use({ web: 1, tcp: 2 });
  assert.equal(worker.count("web"), 1);
  assert.equal(worker.count("api"), 0, "api gave its slot to tcp");
});

Deno.test("requests in flight: counted apart from connections, up to their limit, in one isolate and shared", () => {
  const shared = SharedConnectionCounts.create(2);
  shared.assign(["web", "api"]);
  for (const counts of [new LocalConnectionCounts(), shared]) {
    assert.equal(counts.tryAdd("web", 0, 0), null);
    assert.equal(counts.tryAddRequest(2), true);
    assert.equal(counts.tryAddRequest(2), true);
    assert.equal(counts.tryAddRequest(2), false, "the third over a limit of 2");
    assert.deepEqual([counts.requests(), counts.total(), counts.count("web")], [2, 1, 1]);
    counts.removeRequest();
    assert.equal(counts.tryAddRequest(2), true, "an ended request frees a place");
    assert.equal(counts.tryAddRequest(0), true, "0: no limit");
    assert.equal(counts.requests(), 3);
  }
  // The requests' cell is not an entrypoint slot.
  assert.equal(shared.tryAdd("api", 0, 0), null);
  assert.deepEqual([shared.count("api"), shared.requests()], [1, 3]);
});
