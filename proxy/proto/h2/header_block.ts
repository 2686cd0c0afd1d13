/**
 * Header blocks as they arrive: a HEADERS frame, possibly followed by CONTINUATION frames, then
 * HPACK-decoded. A block in one HEADERS frame is decoded straight from the read buffer; one in
 * pieces is copied together first.
 *
 * Limits (the CONTINUATION flood, CVE-2024-27316 and kin): the encoded block may not exceed the
 * header list limit + 1 KiB nor take more than 32 frames; past either, the connection is closed
 * with ENHANCE_YOUR_CALM before more memory or CPU goes into it. The decoded list is bounded by
 * SETTINGS_MAX_HEADER_LIST_SIZE (see hpack/decoder.ts).
 *
 * @module
 */
import { ConnectionError, ErrorCode } from "./errors.ts";
import type { ContinuationFrame, HeadersFrame, Priority } from "./frames.ts";
import { type DecodedFields, HpackDecoder, HpackError } from "./hpack/decoder.ts";

/** A complete, decoded header block. */
export interface HeaderBlock {
  readonly streamId: number;
  readonly fields: DecodedFields;
  /** The decoded list exceeded the limit: fields past it were left out. */
  readonly tooLarge: boolean;
  readonly endStream: boolean;
  readonly priority: Priority | undefined;
}

/** A header block may take at most this many frames (HEADERS + CONTINUATION). */
export const MAX_BLOCK_FRAMES = 32;

interface Pending {
  readonly streamId: number;
  readonly endStream: boolean;
  readonly priority: Priority | undefined;
  readonly parts: Uint8Array[];
  size: number;
  frames: number;
}

export class HeaderBlockReader {
  readonly #decoder: HpackDecoder;
  readonly #maxListSize: number;
  /** Called before the connection is closed for a block over the limits. */
  readonly #onFlood: (message: string) => void;
  #pending: Pending | null = null;

  constructor(maxListSize: number, tableSize: number, onFlood: (message: string) => void) {
    this.#maxListSize = maxListSize;
    this.#decoder = new HpackDecoder(tableSize);
    this.#onFlood = onFlood;
  }

  /** The stream whose block is incomplete (only CONTINUATION may follow), or 0. */
  get inProgress(): number {
    return this.#pending?.streamId ?? 0;
  }

  /** Forgets an incomplete block (the connection is closing). */
  reset(): void {
    this.#pending = null;
  }

  /** A HEADERS frame: the decoded block, or null when CONTINUATION frames must follow. */
  headers(frame: HeadersFrame): HeaderBlock | null {
    if (frame.endHeaders) {
      return this.#decode(frame.streamId, frame.block, frame.endStream, frame.priority);
    }
    const pending: Pending = {
      streamId: frame.streamId,
      endStream: frame.endStream,
      priority: frame.priority,
      parts: [],
      size: 0,
      frames: 0,
    };
    this.#add(pending, frame.block);
    this.#pending = pending;
    return null;
  }

  /** A CONTINUATION frame: the decoded block once it is complete, else null. */
  continuation(frame: ContinuationFrame): HeaderBlock | null {
    const pending = this.#pending;
    if (pending === null || pending.streamId !== frame.streamId) {
      throw new ConnectionError(
        ErrorCode.PROTOCOL_ERROR,
        `CONTINUATION on stream ${frame.streamId} without a header block in progress there`,
      );
    }
    this.#add(pending, frame.block);
    if (!frame.endHeaders) return null;
    this.#pending = null;
    const joined = new Uint8Array(pending.size);
    let at = 0;
    for (const part of pending.parts) {
      joined.set(part, at);
      at += part.length;
    }
    return this.#decode(pending.streamId, joined, pending.endStream, pending.priority);
  }

  #add(pending: Pending, fragment: Uint8Array): void {
    pending.size += fragment.length;
    pending.frames++;
    // HPACK never makes a field much longer than its name and value, while the list limit counts
    // 32 bytes more per field: a block this far over the limit cannot be a valid one.
    const limit = this.#maxListSize + 1024;
    if (pending.size > limit || pending.frames > MAX_BLOCK_FRAMES) {
      this.#onFlood(
        `header block of stream ${pending.streamId} exceeds ${limit} bytes or ${MAX_BLOCK_FRAMES} frames`,
      );
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "header block too large");
    }
    pending.parts.push(fragment.slice());
  }

  #decode(
    streamId: number,
    block: Uint8Array,
    endStream: boolean,
    priority: Priority | undefined,
  ): HeaderBlock {
    const fields: DecodedFields = { names: [], values: [], sensitive: null };
    let size: number;
    try {
      size = this.#decoder.decode(block, 0, block.length, fields, this.#maxListSize);
    } catch (err) {
      if (err instanceof HpackError) {
        throw new ConnectionError(ErrorCode.COMPRESSION_ERROR, err.message);
      }
      throw err;
    }
    return { streamId, fields, tooLarge: size > this.#maxListSize, endStream, priority };
  }
}
