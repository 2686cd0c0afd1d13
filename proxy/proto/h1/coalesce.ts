/**
 * Streaming a message (head and body) with as few writes as possible, without delaying data.
 *
 * Deno cannot turn Nagle's algorithm off on TLS connections (TlsConn has no setNoDelay), so a
 * small write that follows another unacknowledged one waits for the peer's delayed ACK: about
 * 40 ms on Linux. Writing the head, then the body, then the chunked terminator as separate
 * small writes would cost that stall on every keep-alive response. Instead, what is ready now
 * (the head, chunks already buffered, the terminator) goes out in one write, and a write is
 * made as soon as the next chunk is not ready, so server-sent events and long polls are never
 * held back. "Ready" is the body's `readNow` when it has one (bytes already buffered: no
 * waiting at all), else a chunk that arrives within the current turn of the event loop.
 */
import type { BodyReader } from "../message.ts";
import { type ByteConn, writeAll } from "../../net/buffered_conn.ts";
import { joinBytes } from "../../bytes.ts";

/** Coalesced bytes are written once they reach this size. */
const FLUSH_AT = 64 * 1024;

export const NOT_YET = Symbol("not-yet");

/** `p`'s value if it settles within the current macrotask, else NOT_YET. */
export function settledNow<T>(p: Promise<T>): Promise<T | typeof NOT_YET> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const later = new Promise<typeof NOT_YET>((resolve) => {
    timer = setTimeout(resolve, 0, NOT_YET);
  });
  return Promise.race([p, later]).finally(() => clearTimeout(timer));
}

export interface StreamOptions {
  /** Bytes that go before the body (a message head), written with the first chunk. */
  readonly prefix: Uint8Array;
  /** Frames each body chunk (chunked encoding) or returns it as is. */
  readonly frame: (chunk: Uint8Array) => Uint8Array;
  /**
   * Written after the last chunk (the chunked terminator), or null; a function is called once
   * the body has ended (a terminator with trailers, known only then).
   */
  readonly suffix: Uint8Array | null | (() => Promise<Uint8Array>);
  /** Called after each write with the number of body bytes it carried. */
  readonly onWrite?: (bodyBytes: number) => void;
}

/** What was streamed: body bytes read, bytes written (framing included). */
export interface Streamed {
  readonly body: number;
  readonly wire: number;
}

/** A failure of the body (the source), as opposed to a failure writing to the connection. */
export class BodyFailure extends Error {
  constructor(readonly reason: unknown) {
    super(reason instanceof Error ? reason.message : String(reason));
  }
}

/**
 * Writes prefix, body and suffix to `conn`. Rejects with BodyFailure when reading the body fails
 * and with the connection's error when writing fails (the body is then cancelled).
 */
export async function streamBody(
  conn: ByteConn,
  body: BodyReader,
  opts: StreamOptions,
): Promise<Streamed> {
  const pending: Uint8Array[] = [opts.prefix];
  let pendingBytes = opts.prefix.length;
  let pendingBody = 0;
  let total = 0;
  let wire = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    const out = joinBytes(pending, pendingBytes);
    pending.length = 0;
    const carried = pendingBody;
    pendingBytes = 0;
    pendingBody = 0;
    try {
      await writeAll(conn, out);
    } catch (err) {
      body.cancel(err);
      throw err;
    }
    wire += out.length;
    opts.onWrite?.(carried);
  };
  const read = () => body.read().catch((err) => Promise.reject(new BodyFailure(err)));
  const readNow = () => {
    try {
      return body.readNow?.();
    } catch (err) {
      throw new BodyFailure(err);
    }
  };
  while (true) {
    let chunk = readNow();
    if (chunk === undefined) {
      let next: Promise<Uint8Array | null> = read();
      if (pendingBytes > 0) {
        const now = body.readNow === undefined ? await settledNow(next) : NOT_YET;
        if (now === NOT_YET) {
          try {
            await flush();
          } catch (err) {
            // The client is gone and the body cancelled: the read under way fails too, and
            // nobody awaits it any more (an unhandled rejection would end the process).
            next.catch(() => {});
            throw err;
          }
        } else next = Promise.resolve(now);
      }
      chunk = await next;
    }
    if (chunk === null) break;
    if (chunk.length === 0) continue;
    const framed = opts.frame(chunk);
    pending.push(framed);
    pendingBytes += framed.length;
    pendingBody += chunk.length;
    total += chunk.length;
    if (pendingBytes >= FLUSH_AT) await flush();
  }
  if (opts.suffix !== null) {
    const suffix = opts.suffix instanceof Uint8Array ? opts.suffix : await opts.suffix();
    pending.push(suffix);
    pendingBytes += suffix.length;
  }
  await flush();
  return { body: total, wire };
}
