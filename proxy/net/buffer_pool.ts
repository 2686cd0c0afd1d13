/**
 * Reused buffers for the body and tunnel data paths.
 *
 * A fresh 64 KiB Uint8Array per read lives outside V8's heap until a garbage collection, and
 * glibc keeps the freed blocks: a 1 GiB transfer read that way grew the process by 26-60 MiB,
 * one reused buffer by 5.5-7.8 (docs/runtime.md, section 3). So a connection takes a large
 * buffer from a pool only while data streams through it, and gives it back when the stream
 * pauses or ends: an idle connection holds none, and the same few buffers serve every transfer.
 *
 * A pool keeps at most `maxFree` buffers for reuse; beyond that a returned buffer is left to the
 * garbage collector. A buffer must be given back only once nothing refers to it any more (a
 * buffer whose bytes may still be in use is dropped instead: never given back).
 *
 * Tested by buffer_pool_test.ts.
 *
 * @module
 */

export class BufferPool {
  /** Length of every buffer of this pool. */
  readonly size: number;
  readonly #maxFree: number;
  readonly #free: Uint8Array[] = [];

  constructor(size: number, maxFree: number) {
    this.size = size;
    this.#maxFree = maxFree;
  }

  /** Buffers waiting for reuse. */
  get free(): number {
    return this.#free.length;
  }

  /** A buffer of `size` bytes: the one given back last, or a new one. */
  take(): Uint8Array {
    return this.#free.pop() ?? new Uint8Array(this.size);
  }

  /** Gives `buf` back for reuse; it must not be used by the caller afterwards. */
  give(buf: Uint8Array): void {
    if (buf.length === this.size && buf.byteOffset === 0 && this.#free.length < this.#maxFree) {
      this.#free.push(buf);
    }
  }

  /**
   * Gives back the buffer `view` is a part of, when it is one of this pool's size (a larger one
   * made instead is left to the garbage collector). The same rule as `give`: nothing may use
   * the buffer afterwards.
   */
  giveViewed(view: Uint8Array): void {
    if (view.buffer.byteLength === this.size) this.give(new Uint8Array(view.buffer));
  }
}

/**
 * Gives `buf` back to whichever of two pools it came from, by its size; a buffer of another size
 * (grown for a larger need) is left to the garbage collector. The same rule as `give`.
 */
export function giveToEither(buf: Uint8Array, a: BufferPool, b: BufferPool): void {
  if (buf.length === a.size) a.give(buf);
  else b.give(buf);
}

/** Largest body chunk one read returns (and the tunnels' large read size). */
export const CHUNK_SIZE = 64 * 1024;

/**
 * Buffers of CHUNK_SIZE: reads of HTTP/1.1 bodies and tunnels, and the queues of HTTP/2 bodies
 * (proto/h2/stream.ts: DATA waiting for its reader, one stream window per buffer). 256 free ones
 * (16 MiB at most, kept only after a burst that had them all in use at once) cover the turnover
 * of many transfers: with 64, 400 HTTP/2 uploads to a stalled upstream took 16,600 fresh 16 KiB
 * buffers for 1,000 in use, and the garbage between collections added ~80 MiB to the peak RSS.
 */
export const chunkBuffers = new BufferPool(CHUNK_SIZE, 256);

/**
 * Read buffers of the byte tunnels (net/pipe.ts) while data streams: 256 KiB, what the tunnels
 * grew to before they were pooled (fewer reads per GiB); 8 free ones (2 MiB).
 */
export const tunnelBuffers = new BufferPool(256 * 1024, 8);

/**
 * Write buffers for joining a message head, framing and body chunks into one write: a chunk of
 * CHUNK_SIZE with room for a head or chunk framing of up to 8 KiB.
 */
export const joinBuffers = new BufferPool(CHUNK_SIZE + 8 * 1024, 16);

/**
 * Write buffers for HTTP/1.1 message heads and small messages (a head and a short body joined),
 * and for the frames an HTTP/2 connection writes in one turn (proto/h2/writer.ts, so that an
 * idle connection holds none), each taken for one write and given back when it completed: three fresh typed arrays per
 * proxied request cost ~1 µs each to allocate and collect (docs/runtime.md, question 4). A write
 * completes in a later turn of the event loop, so every head written in one turn is out at once:
 * with 500 requests in flight (`h2load -c50 -m10` to an HTTP/1.1 upstream) a few hundred, and
 * with 64 kept free 37% of the takes were fresh buffers; with 512 (2 MiB at most, kept only
 * after such a burst) none were.
 */
export const headBuffers = new BufferPool(4096, 512);

/**
 * Write buffers of HTTP/2 connections whose turn queues more than a head buffer holds (bulk DATA:
 * up to the writer's 64 KiB high-water mark and one more frame of the default 16 KiB size). 16
 * free ones (2 MiB). Before they were pooled, each connection let its grown buffers go whenever
 * its last stream ended and grew new ones (8, 16 ... 128 KiB) for the next: 116 KiB of fresh
 * buffers per 1 MiB response under `h2load -c4 -m2`.
 */
export const frameBuffers = new BufferPool(128 * 1024, 16);
