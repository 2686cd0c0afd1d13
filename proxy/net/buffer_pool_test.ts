import assert from "node:assert/strict";
import { BufferPool, giveToEither } from "./buffer_pool.ts";

Deno.test("a pool hands back the buffer given back last, and keeps at most maxFree", () => {
  const pool = new BufferPool(1024, 2);
  const a = pool.take();
  const b = pool.take();
  const c = pool.take();
  assert.equal(a.length, 1024);
  assert.notEqual(a, b);
  pool.give(a);
  pool.give(b);
  pool.give(c);
  assert.equal(pool.free, 2, "the third buffer is left to the garbage collector");
  assert.equal(pool.take(), b);
  assert.equal(pool.take(), a);
  assert.equal(pool.free, 0);
});

Deno.test("a pool refuses views and buffers of another size", () => {
  const pool = new BufferPool(1024, 4);
  const own = pool.take();
  pool.give(own.subarray(0, 512));
  pool.give(own.subarray(16));
  pool.give(new Uint8Array(2048));
  pool.give(new Uint8Array(new ArrayBuffer(2048), 1024, 1024));
  assert.equal(pool.free, 0);
  pool.give(own);
  assert.equal(pool.free, 1);
});

Deno.test("giveViewed takes back the buffer a view is part of, and no buffer of another size", () => {
  const pool = new BufferPool(1024, 4);
  const own = pool.take();
  pool.giveViewed(own.subarray(0, 100));
  pool.giveViewed(new Uint8Array(2048).subarray(0, 100));
  assert.equal(pool.free, 1);
  assert.equal(pool.take().buffer, own.buffer);
});

Deno.test("giveToEither gives a buffer to the pool of its size, and one of a third size to neither", () => {
  const small = new BufferPool(1024, 4);
  const large = new BufferPool(4096, 4);
  giveToEither(small.take(), small, large);
  giveToEither(large.take(), small, large);
  giveToEither(new Uint8Array(8192), small, large);
  assert.deepEqual([small.free, large.free], [1, 1]);
});
