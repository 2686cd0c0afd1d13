import assert from "node:assert/strict";
import { IdTable } from "./id_table.ts";

Deno.test("IdTable keeps what a Map keeps through growing, colliding and shrinking", () => {
  const table = new IdTable<string>();
  const model = new Map<number, string>();
  // HTTP/2 stream ids (odd, growing) with ten in flight, then a burst of 300 and back: every
  // home slot collides at some capacity, and the table grows and shrinks on the way.
  let next = 1;
  const open: number[] = [];
  const step = (inFlight: number) => {
    while (open.length < inFlight) {
      table.set(next, `s${next}`);
      model.set(next, `s${next}`);
      open.push(next);
      next += 2;
    }
    const done = open.splice((next * 7) % open.length, 1)[0];
    assert.equal(table.delete(done), true);
    model.delete(done);
  };
  for (let i = 0; i < 2000; i++) step(10);
  for (let i = 0; i < 2000; i++) step(300);
  for (let i = 0; i < 2000; i++) step(3);
  assert.equal(table.size, model.size);
  for (const [id, value] of model) assert.equal(table.get(id), value);
  assert.deepEqual(table.values().sort(), [...model.values()].sort());
  for (let id = 1; id < next; id += 2) assert.equal(table.get(id), model.get(id));
});

Deno.test("IdTable replaces a value, reports what it deleted, refuses ids that are not", () => {
  const table = new IdTable<number>();
  table.set(5, 1);
  table.set(5, 2);
  assert.equal(table.size, 1);
  assert.equal(table.get(5), 2);
  assert.equal(table.delete(7), false);
  assert.equal(table.delete(5), true);
  assert.equal(table.get(5), undefined);
  assert.equal(table.size, 0);
  for (const bad of [0, -1, 1.5, NaN]) assert.throws(() => table.set(bad, 0), RangeError);
});
