/**
 * The read side of an HTTP/2 connection over a real TCP connection: bursts are read through one
 * pooled large buffer, not a fresh one per burst, and it goes back to the pool when traffic dies
 * down and when the connection ends.
 */
import assert from "node:assert/strict";
import { FrameReader, type FrameSink } from "./reader.ts";
import { encodeFrame, type Frame, FrameType, type UnknownFrame } from "./frames.ts";
import { chunkBuffers } from "../../net/buffer_pool.ts";
import { waitFor } from "../../testing/servers.ts";

const BURSTS = 50;

Deno.test("bursts of DATA are read through one pooled buffer, given back when traffic dies down", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  using client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await accepted;
  // Buffers the DATA payloads were views of, and frames seen.
  const buffers = new Set<ArrayBufferLike>();
  let pings = 0;
  let dataBytes = 0;
  const sink: FrameSink = {
    frame(frame: Frame | UnknownFrame) {
      if ("unknown" in frame) return;
      if (frame.type === FrameType.DATA) {
        buffers.add(frame.data.buffer);
        dataBytes += frame.data.length;
      } else if (frame.type === FrameType.PING) pings++;
    },
    streamError: (err) => assert.fail(err.message),
    connectionError: (err) => assert.fail(err.message),
    accepting: true,
    maxFrameSize: 16_384,
  };
  const freeBefore = chunkBuffers.free;
  const reading = new FrameReader(server, sink, false).run();
  const data = encodeFrame({
    type: FrameType.DATA,
    streamId: 1,
    endStream: false,
    data: new Uint8Array(16_000).fill(7),
    flowLength: 16_000,
  });
  const burst = new Uint8Array(data.length * 8);
  for (let i = 0; i < 8; i++) burst.set(data, i * data.length);
  const ping = encodeFrame({ type: FrameType.PING, ack: false, data: new Uint8Array(8) });
  for (let i = 1; i <= BURSTS; i++) {
    // A burst fills the small buffer: the rest is read in a large one. A lone PING after it is a
    // read that uses a sliver of the large buffer: traffic died down, back to the small one.
    await client.write(burst);
    await waitFor(() => dataBytes === i * 8 * 16_000, `burst ${i}`);
    await client.write(ping);
    await waitFor(() => pings === i, `ping ${i}`);
  }
  client.close();
  await reading;
  // One large buffer, taken from the pool at each burst (a fresh one per burst before).
  assert.equal(buffers.size, 1, `${buffers.size} buffers for ${BURSTS} bursts`);
  assert.equal(chunkBuffers.free, Math.max(freeBefore, 1), "the large buffer is back in the pool");
});
