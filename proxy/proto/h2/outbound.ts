/**
 * Sending messages on streams: header blocks (HPACK into one reused buffer, then HEADERS and
 * CONTINUATION frames), DATA under the peer's flow control, bodies pulled from a BodyReader with
 * their trailers.
 *
 * Flow control: DATA waits until both the stream's and the connection's send windows have room,
 * and until the writer's backlog is below HIGH_WATER. A body is read only when the previous chunk
 * went out, so a peer that never opens its window pauses the producer after one chunk: that is
 * all a stalled stream holds. A chunk whose successor is already known to be the end (`readNow`
 * says so) carries END_STREAM itself, saving a frame.
 *
 * @module
 */
import type { HeaderList } from "../header_list.ts";
import type { BodyReader } from "../message.ts";
import { isConnectionSpecific } from "./fields.ts";
import type { H2Stats } from "./guard.ts";
import { HpackEncoder } from "./hpack/encoder.ts";
import type { Settings } from "./settings.ts";
import type { Stream } from "./stream.ts";
import { type FrameWriter, HIGH_WATER } from "./writer.ts";

/** What to send as a message's fields: pseudo-headers first, then a HeaderList. */
export interface OutgoingFields {
  readonly pseudo: readonly (readonly [string, string])[];
  readonly headers: HeaderList | null;
  /** Names to send as never-indexed literals. */
  readonly sensitive?: ReadonlySet<string> | null;
  /** One more name to leave out (the client leaves out Host: :authority carries it). */
  readonly omit?: string;
  /** One more field after `headers` (the Content-Length the server adds), or null. */
  readonly extra?: readonly [string, string] | null;
}

/** Trailers, asked for once the body is sent. */
export type TrailerSource = () => HeaderList | null | Promise<HeaderList | null>;

/** What the sender needs from its connection. */
export interface SenderHost {
  /** This side sent END_STREAM on `stream`. */
  endSent(stream: Stream): void;
  /** Resets `stream` with INTERNAL_ERROR because its body failed with `err`. */
  bodyFailed(stream: Stream, err: unknown): void;
  /** `stream` waits for the peer to open a window (`waiting`), or no longer does. */
  windowWait(stream: Stream, waiting: boolean): void;
}

const EMPTY = new Uint8Array(0);

export class Sender {
  readonly #writer: FrameWriter;
  readonly #peer: Settings;
  readonly #host: SenderHost;
  readonly #stats: H2Stats | undefined;
  readonly #encoder = new HpackEncoder();
  /** Window this side may still fill on the connection. */
  window = 65_535;
  readonly #connWaiters = new Set<Stream>();
  /** Set when stream frames are sent (a PING after them is not idle chatter). */
  sentStreamFrames = true;

  constructor(writer: FrameWriter, peer: Settings, host: SenderHost, stats: H2Stats | undefined) {
    this.#writer = writer;
    this.#peer = peer;
    this.#host = host;
    this.#stats = stats;
  }

  /** The peer's SETTINGS_HEADER_TABLE_SIZE changed. */
  peerTableSize(size: number): void {
    this.#encoder.setPeerMaxTableSize(size);
  }

  /** The connection window grew by `increment`: wake the streams waiting for it. */
  connectionWindowOpened(): void {
    for (const s of this.#connWaiters) s.wake();
    this.#connWaiters.clear();
  }

  /** `stream` is gone: stop tracking it. */
  forget(stream: Stream): void {
    // Guarded: a Set lookup gives an object an identity hash, which costs ~170 ns the first time.
    if (this.#connWaiters.size > 0) this.#connWaiters.delete(stream);
  }

  /** Encodes and queues a header block for `stream`. */
  fields(stream: Stream, fields: OutgoingFields, endStream: boolean): void {
    const enc = this.#encoder;
    enc.begin();
    for (const [name, value] of fields.pseudo) enc.add(name, value);
    const list = fields.headers;
    if (list !== null) {
      const keys = list.keys;
      const values = list.values;
      const sensitive = fields.sensitive ?? null;
      const omit = fields.omit;
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i];
        if (isConnectionSpecific(key) || key.charCodeAt(0) === 0x3a || key === omit) continue;
        enc.add(key, values[i], sensitive !== null && sensitive.has(key));
      }
    }
    if (fields.extra) enc.add(fields.extra[0], fields.extra[1]);
    this.#writer.headers(stream.id, enc.finish(), endStream, this.#peer.maxFrameSize);
    this.sentStreamFrames = true;
    if (endStream) this.#host.endSent(stream);
  }

  /**
   * Queues `bytes` as DATA on `stream`, waiting for window and for the writer's backlog. Rejects
   * with the stream's failure if it ends first.
   */
  async data(stream: Stream, bytes: Uint8Array, endStream: boolean): Promise<void> {
    let off = 0;
    const total = bytes.length;
    const writer = this.#writer;
    while (true) {
      if (stream.failure) throw stream.failure;
      const left = total - off;
      if (left === 0) {
        if (endStream) {
          writer.data(stream.id, EMPTY, 0, 0, true);
          this.#host.endSent(stream);
        }
        return;
      }
      const room = Math.min(stream.sendWindow, this.window, this.#peer.maxFrameSize);
      if (room <= 0) {
        if (this.#stats) this.#stats.flowControlStalls++;
        if (stream.sendWindow > 0) this.#connWaiters.add(stream);
        this.#host.windowWait(stream, true);
        try {
          await stream.windowOpened();
        } finally {
          this.#host.windowWait(stream, false);
        }
        continue;
      }
      if (writer.backlog >= HIGH_WATER) {
        await writer.drained();
        continue;
      }
      const n = Math.min(left, room);
      const last = endStream && n === left;
      writer.data(stream.id, bytes, off, n, last);
      stream.sendWindow -= n;
      this.window -= n;
      this.sentStreamFrames = true;
      off += n;
      if (last) {
        this.#host.endSent(stream);
        return;
      }
    }
  }

  /**
   * Streams `body` as DATA on `stream`, then the trailers or END_STREAM. `expected` is the
   * Content-Length announced (-1: none): a body that does not match it resets the stream.
   */
  async body(
    stream: Stream,
    body: BodyReader,
    trailers: TrailerSource | null,
    expected: number,
  ): Promise<void> {
    let sent = 0;
    try {
      let next = body.readNow?.();
      while (true) {
        const chunk = next === undefined ? await body.read() : next;
        if (chunk === null) break;
        sent += chunk.length;
        if (expected >= 0 && sent > expected) {
          throw new Error("body longer than its content-length");
        }
        next = body.readNow?.();
        const last = next === null && trailers === null;
        if (last && expected >= 0 && sent !== expected) {
          throw new Error("body shorter than its content-length");
        }
        await this.data(stream, chunk, last);
        if (last) {
          // The chunk is in the writer's buffer: the body's reader may reuse its own.
          body.release?.();
          return;
        }
      }
      if (expected >= 0 && sent !== expected) {
        throw new Error("body shorter than its content-length");
      }
      body.release?.();
      const list = trailers === null ? null : await trailers();
      if (stream.failure) throw stream.failure;
      if (list === null || list.size === 0) await this.data(stream, EMPTY, true);
      else this.fields(stream, { pseudo: [], headers: list }, true);
    } catch (err) {
      body.cancel(err);
      if (stream.failure) throw stream.failure;
      this.#host.bodyFailed(stream, err);
      throw err;
    }
  }
}

/** A BodyReader over one array (a body given as bytes, sent with trailers). */
export function bytesBody(bytes: Uint8Array): BodyReader {
  let done = false;
  return {
    length: bytes.length,
    read: () => Promise.resolve(done ? null : (done = true, bytes)),
    readNow: () => done ? null : (done = true, bytes),
    cancel: () => void (done = true),
  };
}
