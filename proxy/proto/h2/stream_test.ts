/**
 * A stream's incoming body: order and bytes are kept, window is given back only for bytes the
 * consumer is done with (at its next `read()`), one-byte frames are packed, a long body reuses a few pooled buffers, trailers come after
 * the last byte, failure and cancel.
 */
import assert from "node:assert/strict";
import { HeaderList } from "../header_list.ts";
import { chunkBuffers, headBuffers } from "../../net/buffer_pool.ts";
import { InboundBody, Stream, type StreamHost } from "./stream.ts";
import { givenBack } from "../../testing/buffers.ts";

function setup() {
  const given: number[] = [];
  const cancelled: unknown[] = [];
  const host: StreamHost = {
    consumed: (_s, n) => void given.push(n),
    bodyCancelled: (_s, reason) => void cancelled.push(reason),
  };
  const stream = new Stream(1, host, 65_535, 65_535);
  const body = new InboundBody(stream, -1);
  stream.inbound = body;
  return { stream, body, given, cancelled };
}

Deno.test("bytes come out in order; window is given back once the reader is done with them, not as they arrive", async () => {
  const { body, given } = setup();
  body.push(Uint8Array.of(1, 2, 3));
  body.push(new Uint8Array(2000).fill(4));
  body.push(Uint8Array.of(5));
  assert.deepEqual(given, []);
  assert.equal(body.buffered, 2004);
  const out: number[] = [];
  for (let c = body.readNow(); c; c = body.readNow()) out.push(...c);
  assert.deepEqual(out.slice(0, 3), [1, 2, 3]);
  assert.equal(out.length, 2004);
  assert.equal(out.at(-1), 5);
  // Taken with readNow(), the chunks are still lent: a reader whose write waits holds them, and
  // the peer must not send more meanwhile.
  body.push(Uint8Array.of(6));
  assert.deepEqual(given, []);
  assert.deepEqual(await body.read(), Uint8Array.of(6));
  assert.equal(given.reduce((a, b) => a + b, 0), 2004, "given back at the next read()");
  const pending = body.read();
  body.end(HeaderList.from([["grpc-status", "0"]]));
  assert.equal(await pending, null);
  assert.deepEqual((await body.trailers)?.entries(), [["grpc-status", "0"]]);
});

Deno.test("ten thousand one-byte frames are read as two chunks", () => {
  const { body } = setup();
  for (let i = 0; i < 10_000; i++) body.push(Uint8Array.of(i & 0xff));
  let chunks = 0;
  let total = 0;
  let ok = true;
  for (let c = body.readNow(); c; c = body.readNow()) {
    for (const b of c) ok &&= b === (total++ & 0xff);
    chunks++;
  }
  assert.equal(total, 10_000);
  assert.ok(ok, "bytes in order");
  // The first 4 KiB in the small buffer a body starts in, the rest in one pooled 64 KiB buffer.
  assert.equal(chunks, 2, "10,000 bytes did not fit a 4 KiB and a 64 KiB buffer");
});

Deno.test("96 MiB of DATA pass through a few pooled buffers, whatever the reader's pace", async () => {
  const { body } = setup();
  const frame = new Uint8Array(16_384);
  const seen = new Set<ArrayBufferLike>();
  let total = 0;
  /** Reads `bytes` (each frame's bytes as pushed), the first read being `first`. */
  const take = async (first: Promise<Uint8Array | null>, bytes: number[]) => {
    const expected = bytes.flatMap((b) => Array<number>(frame.length).fill(b));
    let off = 0;
    while (off < expected.length) {
      const chunk = await (off === 0 ? first : body.read());
      assert.ok(chunk !== null);
      assert.ok(chunk.every((b, i) => b === expected[off + i]), "bytes as pushed");
      seen.add(chunk.buffer);
      off += chunk.length;
    }
    total += off;
  };
  for (let i = 0; i < 2048; i++) {
    // A reader waiting for DATA, then one that finds two frames queued.
    const waiting = body.read();
    body.push(frame.fill(1));
    await take(waiting, [1]);
    body.push(frame.fill(2));
    body.push(frame.fill(3));
    await take(body.read(), [2, 3]);
  }
  assert.equal(total, 3 * 2048 * 16_384);
  assert.ok(seen.size <= 4, `${seen.size} buffers for 96 MiB`);
  const end = body.read();
  body.end(null);
  assert.equal(await end, null);
  assert.ok(chunkBuffers.free >= 1, "the queue's buffers went back to the pool");
});

Deno.test("trailers wait for the last byte to be read; failure and cancel end the body", async () => {
  const { body } = setup();
  body.push(Uint8Array.of(9));
  body.end(null);
  let settled = false;
  void body.trailers.then(() => settled = true);
  await Promise.resolve();
  assert.equal(settled, false);
  assert.deepEqual(body.readNow(), Uint8Array.of(9));
  assert.equal(await body.trailers, null);

  const other = setup();
  other.body.push(Uint8Array.of(1, 2));
  other.stream.fail(new Error("reset by peer"));
  assert.throws(() => other.body.readNow(), /reset by peer/);
  assert.equal(other.given.reduce((a, b) => a + b, 0), 2, "unread bytes go back to the window");

  const third = setup();
  third.body.push(Uint8Array.of(1));
  third.body.cancel("not needed");
  assert.equal(third.body.readNow(), null);
  assert.deepEqual(third.cancelled, ["not needed"]);
});

Deno.test("a body read to its end with readNow gives its buffers back once released", async () => {
  const returned = await givenBack(chunkBuffers, () => {
    const { body } = setup();
    body.push(new Uint8Array(100_000).fill(7));
    body.end(null);
    let total = 0;
    // As the HTTP/2 writer reads: chunk after chunk, the end seen by looking ahead.
    for (let c = body.readNow(); c; c = body.readNow()) total += c.length;
    assert.equal(total, 100_000);
    assert.equal(chunkBuffers.free, 0, "given back while lent");
    body.release();
    assert.equal(chunkBuffers.free, 2, "the two buffers did not go back on release");
    return Promise.resolve();
  });
  assert.equal(returned.length, 2);
});

Deno.test("a small body waits in a pooled 4 KiB buffer, a body announced larger in a 64 KiB one", async () => {
  const returned = await givenBack(headBuffers, () => {
    for (const [length, size] of [[17, 4096], [-1, 4096], [100_000, 64 * 1024]]) {
      const { stream } = setup();
      const body = new InboundBody(stream, length);
      body.push(new TextEncoder().encode("hello, gatehouse\n"));
      body.end(null);
      const chunk = body.readNow()!;
      assert.equal(new TextDecoder().decode(chunk), "hello, gatehouse\n");
      assert.equal(chunk.buffer.byteLength, size, `length ${length}`);
      assert.equal(body.readNow(), null);
      body.release();
      assert.equal(headBuffers.free, 1, `length ${length}: not given back, or not reused`);
    }
    return Promise.resolve();
  });
  assert.equal(returned.length, 1);
});
