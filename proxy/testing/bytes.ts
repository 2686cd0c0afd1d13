/**
 * Large bodies for tests without holding them in memory: a deterministic byte stream, and a
 * SHA-256 of a stream computed as it passes.
 *
 * @module
 */
import { createHash } from "node:crypto";

const CHUNK = 64 * 1024;

/** One 64 KiB block of pseudo-random bytes (xorshift32, fixed seed), made once. */
const BLOCK = (() => {
  const words = new Uint32Array(CHUNK / 4);
  let x = 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer);
})();

/** What a stream carried. */
export interface Digest {
  readonly bytes: number;
  readonly sha256: string;
}

/**
 * `total` deterministic bytes in 64 KiB chunks (each chunk numbered, so that reordered or
 * repeated chunks change the hash); `onEnd` gets the digest of everything produced.
 */
export function patternStream(
  total: number,
  onEnd?: (d: Digest) => void,
): ReadableStream<Uint8Array> {
  const hash = createHash("sha256");
  let sent = 0;
  let index = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) {
        controller.close();
        onEnd?.({ bytes: sent, sha256: hash.digest("hex") });
        return;
      }
      const chunk = BLOCK.slice(0, Math.min(CHUNK, total - sent));
      if (chunk.length >= 4) new DataView(chunk.buffer).setUint32(0, index++);
      hash.update(chunk);
      sent += chunk.length;
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
}

/** Reads `stream` to its end, hashing as it goes. */
export async function digestOf(stream: ReadableStream<Uint8Array>): Promise<Digest> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, sha256: hash.digest("hex") };
}
