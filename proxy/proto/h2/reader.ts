/**
 * The read side of an HTTP/2 connection: one reused buffer, filled by `transport.read` and
 * parsed in place; each complete frame goes to the connection as soon as it is whole, with
 * payloads as views into the buffer (valid until the handler returns).
 *
 * The buffer starts at 2 KiB (requests and control frames fit), grows to what a frame needs, and
 * grows fourfold (up to 64 KiB) whenever a read fills it: busy connections and uploads read in
 * large pieces. Once a read uses no more than a sixteenth of it, traffic has died down and it goes
 * back to 2 KiB, so an idle connection waits on the small buffer. It changes only between reads (a
 * pending read owns its buffer). A frame larger than this side's SETTINGS_MAX_FRAME_SIZE is refused
 * from its header, before its payload is read.
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

const READ_BUFFER = 2048;
const MAX_READ_BUFFER = 64 * 1024;

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
  readonly #transport: Transport;
  readonly #sink: FrameSink;
  #buf = new Uint8Array(READ_BUFFER);
  #start = 0;
  #end = 0;
  #needPreface: boolean;
  /** Bytes the last read brought. */
  #lastRead = 0;

  /** `needPreface`: the server side, which reads the client preface first. */
  constructor(transport: Transport, sink: FrameSink, needPreface: boolean, initial?: Uint8Array) {
    this.#transport = transport;
    this.#sink = sink;
    this.#needPreface = needPreface;
    if (initial && initial.length > 0) {
      if (initial.length > this.#buf.length) this.#buf = new Uint8Array(initial.length);
      this.#buf.set(initial);
      this.#end = initial.length;
    }
  }

  /** Reads until the peer closes or a read fails (the transport closed under it). */
  async run(): Promise<void> {
    try {
      if (this.#end > 0) this.#process();
      while (true) {
        this.#makeRoom();
        const n = await this.#transport.read(this.#buf.subarray(this.#end));
        if (n === null) return;
        if (!this.#sink.accepting) continue;
        this.#end += n;
        this.#lastRead = n;
        // A read that filled the buffer: more is coming, read it in larger pieces.
        if (this.#end === this.#buf.length && this.#buf.length < MAX_READ_BUFFER) {
          this.#grow(Math.min(MAX_READ_BUFFER, this.#buf.length * 4));
        }
        this.#process();
      }
    } catch {
      // A read fails when the transport is closed under it or reset by the peer.
    }
  }

  /** Before a read: room for it, in a buffer of the size the traffic calls for. */
  #makeRoom(): void {
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
      // Traffic died down (the last read used a small part of the buffer): back to the small one.
      if (this.#buf.length > READ_BUFFER && this.#lastRead <= this.#buf.length / 16) {
        this.#buf = new Uint8Array(READ_BUFFER);
      }
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

  #grow(size: number): void {
    const grown = new Uint8Array(size);
    grown.set(this.#buf.subarray(this.#start, this.#end));
    this.#end -= this.#start;
    this.#start = 0;
    this.#buf = grown;
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
