/**
 * The bytes of the demo app's `/download/:bytes`: 64 KiB chunks of a fixed pseudo-random block,
 * each chunk stamped with its number so that lost, repeated or reordered chunks change the
 * SHA-256. Shared by the app and the tests that check what arrived.
 *
 * @module
 */

const CHUNK = 64 * 1024;

const BLOCK = (() => {
  const words = new Uint32Array(CHUNK / 4);
  let x = 0x2545f491;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer);
})();

/** Chunk `index` of a download of `total` bytes (empty past the end). */
export function downloadChunk(total: number, index: number): Uint8Array {
  const start = index * CHUNK;
  const chunk = BLOCK.slice(0, Math.max(0, Math.min(CHUNK, total - start)));
  if (chunk.length >= 4) new DataView(chunk.buffer).setUint32(0, index);
  return chunk;
}

/** The body of a download of `total` bytes, produced as the reader pulls. */
export function downloadStream(total: number): ReadableStream<Uint8Array> {
  let index = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = downloadChunk(total, index++);
      if (chunk.length === 0) controller.close();
      else controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
}
