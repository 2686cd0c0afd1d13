/**
 * Watching a body as it passes (counting bytes, limits, deadlines, logging at its end) without
 * changing it: one wrapper for every such need, forwarding `readNow` so that ready bytes still
 * reach the writer in one piece.
 *
 * Tested by http/handler_streaming_test.ts and http/forward_test.ts.
 */
import type { BodyReader } from "./message.ts";

export interface BodyTap {
  /** Before the body is first read (by `read`, or by a `readNow` that got something). */
  readonly begin?: () => void;
  /** A `read` starts: until its chunk, end or error, the reader waits on the body's source. */
  readonly wait?: () => void;
  /** Each chunk as it passes; may throw to fail the body (cancel the source first). */
  readonly chunk?: (chunk: Uint8Array) => void;
  /** The body ended as framed. */
  readonly end?: () => void;
  /** Reading the body failed. */
  readonly error?: (err: unknown) => void;
  /** The reader gave up on the body. */
  readonly cancel?: (reason: unknown) => void;
}

/** `body`, with `tap` told what happens to it. */
export function tapBody(body: BodyReader, tap: BodyTap): BodyReader {
  let begun = false;
  const begin = () => {
    if (!begun) {
      begun = true;
      tap.begin?.();
    }
  };
  const pass = (chunk: Uint8Array | null) => {
    if (chunk === null) tap.end?.();
    else tap.chunk?.(chunk);
    return chunk;
  };
  const fail = (err: unknown): never => {
    tap.error?.(err);
    throw err;
  };
  const readNow = body.readNow?.bind(body);
  return {
    length: body.length,
    read() {
      begin();
      tap.wait?.();
      return body.read().then(pass, fail);
    },
    readNow: readNow === undefined ? undefined : () => {
      let chunk: Uint8Array | null | undefined;
      try {
        chunk = readNow();
      } catch (err) {
        begin();
        fail(err);
      }
      if (chunk === undefined) return undefined;
      begin();
      return pass(chunk);
    },
    cancel(reason) {
      body.cancel(reason);
      tap.cancel?.(reason);
    },
    release() {
      body.release?.();
    },
  };
}
