/**
 * The write side of an HTTP/2 connection: frames are encoded straight into one buffer and the
 * buffer goes to the socket in one write per turn of the event loop.
 *
 * Coalescing: the first frame queued while the socket is idle schedules a flush with
 * `setImmediate`, which runs after the current macrotask and its microtasks: everything the
 * connection and its streams queue meanwhile (responses to ten requests that arrived in one read,
 * a HEADERS and its DATA, control frames) leaves in that one write. While a write is under way,
 * frames gather in a second buffer and follow it as one write. One write per response batch also
 * keeps Nagle's algorithm from holding a response back on TLS connections, where Deno cannot set
 * TCP_NODELAY (the write never follows an unacknowledged small one from the same batch).
 *
 * Memory: a turn's frames go into a 4 KiB buffer from the pool of head buffers, given back once
 * its write completed, so an idle connection holds no write buffer (docs/runtime.md, question
 * 9); a turn that queues more takes a 128 KiB one from the pool of frame buffers (or, for larger
 * frames, grows its own), kept for the next turns until `trim()` gives it back.
 * Stream data waits (`drained()`) while more than `HIGH_WATER` bytes are queued, so a slow reader
 * holds at most that much of it; control frames cannot wait, so a peer that keeps asking for
 * answers without reading them trips `overloaded` (MAX_BACKLOG) and the connection closes.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import { writeAll } from "../../net/buffered_conn.ts";
import { frameBuffers, giveToEither, headBuffers } from "../../net/buffer_pool.ts";
import type { WriteWatch } from "../../net/connections.ts";
import { Flag, FRAME_HEADER_SIZE, FrameType, writeFrameHeader, writeU32 } from "./frames.ts";

/** The byte transport of a connection: Deno.Conn and Deno.TlsConn satisfy it. */
export interface Transport {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
  /** Half-close (FIN or TLS close_notify), when the transport has it. */
  closeWrite?(): Promise<void>;
}

/** Queued bytes above which stream data waits for the socket. */
export const HIGH_WATER = 64 * 1024;
/** Queued bytes above which the peer is not reading what it asks for: the connection closes. */
export const MAX_BACKLOG = 1024 * 1024;
/** No buffer: the next frame takes one. */
const NONE: Uint8Array = new Uint8Array(0);
/** `trim()` lets grown buffers go only above this: smaller ones are cheaper kept than made anew. */
const TRIM_ABOVE = 32 * 1024;

const encoder = new TextEncoder();

export class FrameWriter {
  readonly #transport: Transport;
  readonly #onError: (err: unknown) => void;
  readonly #watch: WriteWatch | undefined;
  /** Frames queued for the next write (NONE when none). */
  #buf: Uint8Array = NONE;
  #len = 0;
  /** A grown buffer whose write completed, for the next turn's frames (or NONE). */
  #spare: Uint8Array = NONE;
  /** Bytes of the write under way. */
  #inFlight = 0;
  #scheduled = false;
  #failed = false;
  #drainWaiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  #flushWaiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  #error: unknown = null;
  readonly #flushNow = () => this.#flush();

  /** `watch` is told of each write, to bound how long it may wait for the peer to take bytes. */
  constructor(transport: Transport, onError: (err: unknown) => void, watch?: WriteWatch) {
    this.#transport = transport;
    this.#onError = onError;
    this.#watch = watch;
  }

  /** Bytes queued or being written. */
  get backlog(): number {
    return this.#len + this.#inFlight;
  }

  /** True when queued bytes exceed MAX_BACKLOG. */
  get overloaded(): boolean {
    return this.backlog > MAX_BACKLOG;
  }

  /** True once a write failed: nothing more will be written. */
  get failed(): boolean {
    return this.#failed;
  }

  /** Resolves once the backlog is below HIGH_WATER; rejects if the transport fails. */
  drained(): Promise<void> {
    if (this.#failed) return Promise.reject(this.#error);
    if (this.backlog < HIGH_WATER) return Promise.resolve();
    return new Promise((resolve, reject) => this.#drainWaiters.push({ resolve, reject }));
  }

  /** Writes what is queued now; resolves when all of it is written. */
  flush(): Promise<void> {
    if (this.#failed) return Promise.reject(this.#error);
    if (this.backlog === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#flushWaiters.push({ resolve, reject });
      if (this.#inFlight === 0) this.#flush();
    });
  }

  /** Lets buffers grown by bulk data go, back to their pool (call when the connection goes idle). */
  trim(): void {
    if (this.#len === 0 && this.#buf.length > TRIM_ABOVE) {
      giveToEither(this.#buf, headBuffers, frameBuffers);
      this.#buf = NONE;
    }
    if (this.#spare.length > TRIM_ABOVE) {
      giveToEither(this.#spare, headBuffers, frameBuffers);
      this.#spare = NONE;
    }
  }

  /** Bytes as they are (the client connection preface). */
  raw(bytes: Uint8Array): void {
    const at = this.#reserve(bytes.length);
    this.#buf.set(bytes, at);
  }

  settings(entries: readonly (readonly [number, number])[]): void {
    const at = this.#reserve(FRAME_HEADER_SIZE + entries.length * 6);
    writeFrameHeader(this.#buf, at, entries.length * 6, FrameType.SETTINGS, 0, 0);
    let p = at + FRAME_HEADER_SIZE;
    for (const [id, value] of entries) {
      this.#buf[p] = id >>> 8;
      this.#buf[p + 1] = id & 0xff;
      writeU32(this.#buf, p + 2, value);
      p += 6;
    }
  }

  settingsAck(): void {
    const at = this.#reserve(FRAME_HEADER_SIZE);
    writeFrameHeader(this.#buf, at, 0, FrameType.SETTINGS, Flag.ACK, 0);
  }

  ping(ack: boolean, data: Uint8Array): void {
    const at = this.#reserve(FRAME_HEADER_SIZE + 8);
    writeFrameHeader(this.#buf, at, 8, FrameType.PING, ack ? Flag.ACK : 0, 0);
    this.#buf.set(data.subarray(0, 8), at + FRAME_HEADER_SIZE);
  }

  goaway(lastStreamId: number, code: number, debug: string): void {
    const text = encoder.encode(debug.slice(0, 256));
    const at = this.#reserve(FRAME_HEADER_SIZE + 8 + text.length);
    writeFrameHeader(this.#buf, at, 8 + text.length, FrameType.GOAWAY, 0, 0);
    writeU32(this.#buf, at + 9, lastStreamId);
    writeU32(this.#buf, at + 13, code);
    this.#buf.set(text, at + 17);
  }

  rstStream(streamId: number, code: number): void {
    const at = this.#reserve(FRAME_HEADER_SIZE + 4);
    writeFrameHeader(this.#buf, at, 4, FrameType.RST_STREAM, 0, streamId);
    writeU32(this.#buf, at + 9, code);
  }

  windowUpdate(streamId: number, increment: number): void {
    const at = this.#reserve(FRAME_HEADER_SIZE + 4);
    writeFrameHeader(this.#buf, at, 4, FrameType.WINDOW_UPDATE, 0, streamId);
    writeU32(this.#buf, at + 9, increment);
  }

  /** A header block as HEADERS and, beyond `maxFrameSize`, CONTINUATION frames. */
  headers(streamId: number, block: Uint8Array, endStream: boolean, maxFrameSize: number): void {
    const frames = Math.max(1, Math.ceil(block.length / maxFrameSize));
    const at = this.#reserve(frames * FRAME_HEADER_SIZE + block.length);
    let p = at;
    for (let i = 0; i < frames; i++) {
      const start = i * maxFrameSize;
      const n = Math.min(maxFrameSize, block.length - start);
      const last = i === frames - 1;
      const type = i === 0 ? FrameType.HEADERS : FrameType.CONTINUATION;
      const flags = (last ? Flag.END_HEADERS : 0) | (i === 0 && endStream ? Flag.END_STREAM : 0);
      writeFrameHeader(this.#buf, p, n, type, flags, streamId);
      this.#buf.set(block.subarray(start, start + n), p + FRAME_HEADER_SIZE);
      p += FRAME_HEADER_SIZE + n;
    }
  }

  /** One DATA frame of `src[off..off+len)` (len within the peer's frame size and windows). */
  data(streamId: number, src: Uint8Array, off: number, len: number, endStream: boolean): void {
    const at = this.#reserve(FRAME_HEADER_SIZE + len);
    writeFrameHeader(this.#buf, at, len, FrameType.DATA, endStream ? Flag.END_STREAM : 0, streamId);
    if (len > 0) this.#buf.set(src.subarray(off, off + len), at + FRAME_HEADER_SIZE);
  }

  /** Room for `n` bytes at the end of the queue; returns where they start. */
  #reserve(n: number): number {
    const at = this.#len;
    const buf = this.#buf;
    if (at + n > buf.length) {
      const size = Math.max(buf.length * 2, at + n);
      const grown = size <= headBuffers.size
        ? headBuffers.take()
        : size <= frameBuffers.size
        ? frameBuffers.take()
        : new Uint8Array(size);
      grown.set(buf.subarray(0, at));
      this.#buf = grown;
      giveToEither(buf, headBuffers, frameBuffers);
    }
    this.#len = at + n;
    if (!this.#scheduled && this.#inFlight === 0 && !this.#failed) {
      this.#scheduled = true;
      setImmediate(this.#flushNow);
    }
    return at;
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#inFlight > 0 || this.#failed) return;
    if (this.#len === 0) {
      this.#settle();
      return;
    }
    // The written buffer must stay untouched until the write completes: frames queued
    // meanwhile go to the other one.
    const written = this.#buf;
    const len = this.#len;
    this.#buf = this.#spare;
    this.#spare = NONE;
    this.#len = 0;
    this.#inFlight = len;
    writeAll(this.#transport, written.subarray(0, len), this.#watch).then(
      () => {
        this.#inFlight = 0;
        if (written.length === headBuffers.size) headBuffers.give(written);
        else if (this.#spare === NONE) this.#spare = written;
        if (this.#len > 0) {
          // Frames queued during the write: they go in the next turn, with whatever joins them.
          this.#scheduled = true;
          setImmediate(this.#flushNow);
        }
        this.#settle();
      },
      (err) => this.#fail(err),
    );
  }

  #settle(): void {
    if (this.backlog < HIGH_WATER && this.#drainWaiters.length > 0) {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of waiters) w.resolve();
    }
    if (this.backlog === 0 && this.#flushWaiters.length > 0) {
      const waiters = this.#flushWaiters;
      this.#flushWaiters = [];
      for (const w of waiters) w.resolve();
    }
  }

  #fail(err: unknown): void {
    this.#failed = true;
    this.#error = err;
    this.#inFlight = 0;
    this.#len = 0;
    for (const w of [...this.#drainWaiters, ...this.#flushWaiters]) w.reject(err);
    this.#drainWaiters = [];
    this.#flushWaiters = [];
    this.#onError(err);
  }
}
