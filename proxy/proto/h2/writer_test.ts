import assert from "node:assert/strict";
import { FrameWriter } from "./writer.ts";
import { frameBuffers } from "../../net/buffer_pool.ts";
import { givenBack } from "../../testing/buffers.ts";

Deno.test("a bulk turn's write buffer comes from the frame buffer pool and goes back when the connection idles", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  using peer = await accepted;
  let received = 0;
  const draining = (async () => {
    const buf = new Uint8Array(64 * 1024);
    for (let n = await peer.read(buf); n !== null; n = await peer.read(buf)) received += n;
  })();
  const writer = new FrameWriter(conn, (err) => assert.fail(String(err)));
  const data = new Uint8Array(16 * 1024);
  /** One turn of seven 16 KiB DATA frames (more than a head buffer holds), written. */
  const bulkTurn = async () => {
    for (let i = 0; i < 7; i++) writer.data(1, data, 0, data.length, false);
    await writer.flush();
  };
  const returned = await givenBack(frameBuffers, async () => {
    await bulkTurn();
    writer.trim();
    assert.equal(frameBuffers.free, 1, "the grown buffer did not go back to the pool");
    await bulkTurn();
    assert.equal(frameBuffers.free, 0, "the next bulk turn did not take the pooled buffer");
    writer.trim();
  }, 0);
  assert.equal(returned.length, 1);
  await conn.closeWrite();
  await draining;
  assert.equal(received, 2 * 7 * (9 + data.length));
});
