/**
 * Watching a buffer pool (net/buffer_pool.ts) in tests: which buffers a code path gave back.
 *
 * @module
 */
import type { BufferPool } from "../net/buffer_pool.ts";

/**
 * Runs `fn` with `pool` emptied first and returns how each buffer given back meanwhile starts
 * (its first `peek` bytes as text); the pool holds what it held before, and those, afterwards.
 */
export async function givenBack(
  pool: BufferPool,
  fn: () => Promise<void>,
  peek = 32,
): Promise<string[]> {
  const held = Array.from({ length: pool.free }, () => pool.take());
  let returned: Uint8Array[] = [];
  try {
    await fn();
    returned = Array.from({ length: pool.free }, () => pool.take());
    return returned.map((buf) => new TextDecoder().decode(buf.subarray(0, peek)));
  } finally {
    for (const buf of [...held, ...returned]) pool.give(buf);
  }
}
