/**
 * The read side of an HTTP/2 connection: one reused buffer, filled by `transport.read` and
 * parsed in place; each complete frame goes to the connection as soon as it is whole, with
 * payloads as views into the buffer (valid until the handler returns).
 *
 * The buffer starts at 2 KiB (requests and control frames fit). A read that fills it, or a frame
 * that needs more, moves it to a 64 KiB one from the pool (net/buffer_pool.ts): busy connections
 * and uploads read in large pieces. Once a read uses no more than a sixteenth of it, traffic has
 * died down: the large buffer goes back to the pool and the connection waits on its small one.
 * Pooled, not allocated: 208 connections uploading in bursts switched ~3,000 times each way in
 * seconds, and the fresh buffers (8, 32 and 64 KiB) left ~330 MiB to the garbage collector, which
 * took the peak RSS past a 200 MiB memory limit. The buffer changes only between reads (a
 * pending read owns it). A frame larger than this side's SETTINGS_MAX_FRAME_SIZE is refused from
 * its header, before its payload is read; one larger than 64 KiB (a SETTINGS_MAX_FRAME_SIZE raised
 * past it) gets a buffer of its own.
 *
 * @module
 */
import { ConnectionError, ErrorCode, StreamError } from "./errors.ts";
import {
  CLIENT_PREFACE,
  decodeFrame,
  type Frame,
  FRAME_HEADER_SIZE,
  frameLength,
  type UnknownFrame,
} from "./frames.ts";
import type { Transport } from "./writer.ts";
import { CHUNK_SIZE, chunkBuffers } from "../../net/buffer_pool.ts";
import { type DirectRead, directRead } from "../../internal/direct_read.ts";

/** The buffer an idle connection reads into (what most reads of requests fit in). */
const READ_BUFFER = 1024;

/** What the reader hands its connection. */
export interface FrameSink {
  /** A complete frame; may throw StreamError (the frame is consumed) or ConnectionError. */
  frame(frame: Frame | UnknownFrame): void;
  /** A frame-level stream error (PRIORITY of the wrong length); the frame is skipped. */
  streamError(err: StreamError): void;
  /** A connection error (or an unexpected failure): stop reading frames. */
  connectionError(err: ConnectionError): void;
  /** True while frames should be handled; false while closing (bytes are read and dropped). */
  readonly accepting: boolean;
  /** Largest frame payload accepted (this side's SETTINGS_MAX_FRAME_SIZE). */
  readonly maxFrameSize: number;
}

export class FrameReader {
  /**
   * Reads into a buffer; 0 or null at end of stream. Deno's read op itself for Deno's own
   * connections (internal/direct_read.ts): its `Conn.read` wrapper would keep one more suspended
   * function and promise per idle connection, and cost CPU per read.
   */
  readonly #read: DirectRead | ((p: Uint8Array) => Promise<number | null>);
  readonly #sink: FrameSink;
  /** The small buffer, kept for the connection's life. */
  readonly #small: Uint8Array = new Uint8Array(READ_BUFFER);
  #buf: Uint8Array = this.#small;
  #start = 0;
  #end = 0;
  #needPreface: boolean;
  /** Bytes the last read brought. */
  #lastRead = 0;

  /** `needPreface`: the server side, which reads the client preface first. */
  constructor(transport: Transport, sink: FrameSink, needPreface: boolean, initial?: Uint8Array) {
    this.#read = directRead(transport) ?? ((p) => transport.read(p));
    this.#sink = sink;
    this.#needPreface = needPreface;
    if (initial && initial.length > 0) {
      this.#end = initial.length;
      if (initial.length > this.#buf.length) this.#grow(initial.length);
      this.#buf.set(initial);
    }
  }

  /** Reads until the peer closes or a read fails (the transport closed under it). */
  async run(): Promise<void> {
    try {
      if (this.#end > 0) this.#process();
      while (true) {
        this.#makeRoom();
        const n = await this.#read(this.#buf.subarray(this.#end));
        if (n === null || n === 0) return;
        if (!this.#sink.accepting) continue;
        this.#end += n;
        this.#lastRead = n;
        // A read that filled the small buffer: more is coming, read it in larger pieces.
        if (this.#end === this.#buf.length && this.#buf === this.#small) this.#grow(CHUNK_SIZE);
        this.#process();
      }
    } catch {
      // A read fails when the transport is closed under it or reset by the peer.
    } finally {
      this.#shrink();
    }
  }

  /** Before a read: room for it, in a buffer of the size the traffic calls for. */
  #makeRoom(): void {
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
      // Traffic died down (the last read used a small part of the buffer): back to the small one.
      if (this.#lastRead <= this.#buf.length / 16) this.#shrink();
      return;
    }
    if (this.#end < this.#buf.length) return;
    const pending = this.#end - this.#start;
    const need = pending >= FRAME_HEADER_SIZE
      ? FRAME_HEADER_SIZE + frameLength(this.#buf, this.#start)
      : FRAME_HEADER_SIZE;
    if (need > this.#buf.length) {
      this.#grow(need);
      return;
    }
    this.#buf.copyWithin(0, this.#start, this.#end);
    this.#start = 0;
    this.#end = pending;
  }

  /** Moves the pending bytes to a buffer of at least `size` bytes (pooled up to CHUNK_SIZE). */
  #grow(size: number): void {
    const grown = size <= CHUNK_SIZE ? chunkBuffers.take() : new Uint8Array(size);
    grown.set(this.#buf.subarray(this.#start, this.#end));
    this.#end -= this.#start;
    this.#start = 0;
    if (this.#buf !== this.#small) chunkBuffers.give(this.#buf);
    this.#buf = grown;
  }

  /** Back to the small buffer, the large one to the pool (nothing is pending). */
  #shrink(): void {
    if (this.#buf === this.#small) return;
    chunkBuffers.give(this.#buf);
    this.#buf = this.#small;
  }

  #process(): void {
    const sink = this.#sink;
    try {
      if (this.#needPreface && !this.#preface()) return;
      while (sink.accepting) {
        let decoded;
        try {
          decoded = decodeFrame(this.#buf, this.#start, this.#end, sink.maxFrameSize);
        } catch (err) {
          if (!(err instanceof StreamError)) throw err;
          this.#start += FRAME_HEADER_SIZE + frameLength(this.#buf, this.#start);
          sink.streamError(err);
          continue;
        }
        if (decoded === null) break;
        this.#start += decoded.size;
        try {
          sink.frame(decoded.frame);
        } catch (err) {
          if (err instanceof StreamError) sink.streamError(err);
          else throw err;
        }
      }
      if (this.#start === this.#end) this.#start = this.#end = 0;
    } catch (err) {
      sink.connectionError(
        err instanceof ConnectionError ? err : new ConnectionError(
          ErrorCode.INTERNAL_ERROR,
          `internal error: ${err instanceof Error ? err.message : String(err)}`,
        ),
      );
    }
  }

  /** Checks the client preface; false while it is incomplete. */
  #preface(): boolean {
    const have = Math.min(this.#end - this.#start, CLIENT_PREFACE.length);
    for (let i = 0; i < have; i++) {
      if (this.#buf[this.#start + i] !== CLIENT_PREFACE[i]) {
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "invalid connection preface");
      }
    }
    if (have < CLIENT_PREFACE.length) return false;
    this.#start += CLIENT_PREFACE.length;
    this.#needPreface = false;
    return true;
  }
}
