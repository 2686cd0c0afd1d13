/**
 * Receive-side flow control (RFC 9113 5.2, 6.9): the windows the peer may fill, on the
 * connection and on each stream, and when to give them back.
 *
 * Window is given back as the consumer is done with data (`consumed`: stream.ts says when), not as
 * it arrives, in WINDOW_UPDATEs of at least half a window: a consumer that stops reading stops the
 * peer after one stream window, and a connection never buffers more than its connection window.
 * Bytes nobody will read (padding, data for reset or closed streams) are given back at once
 * (`discarded`).
 *
 * A stream's window grows while the peer fills it faster than it is given back and the consumer
 * keeps up: when a WINDOW_UPDATE is due and the peer had less than a quarter of the window left,
 * the window doubles, up to MAX_STREAM_WINDOW, drawing on one budget for all connections of the
 * isolate (`windowGrowth`, GROWTH_BUDGET). The announced window (64 KiB) bounds what a stalled
 * stream holds, so that `limits.max_requests_in_flight` of them fit the memory limit; grown
 * windows, for the few streams that move data fast (a large upload over a long round trip), cost
 * at most the budget whatever they do next. Given back when the stream closes.
 *
 * A stream window this side announces below the initial 65,535 applies only once the peer
 * acknowledges our SETTINGS (until then the peer may still use 65,535); one above it applies at once
 * (a lenient check on early data costs nothing).
 *
 * @module
 */
import { ConnectionError, ErrorCode, StreamError } from "./errors.ts";
import type { Stream } from "./stream.ts";
import type { FrameWriter } from "./writer.ts";
import { ByteBudget } from "../../net/byte_budget.ts";

const INITIAL_WINDOW = 65_535;
/** Largest window one stream grows to (as large as the default connection window). */
export const MAX_STREAM_WINDOW = 1024 * 1024;
/** Stream window beyond the announced one that an isolate's connections may grant at once. */
export const GROWTH_BUDGET = 16 * 1024 * 1024;

/** The isolate's growth budget. */
export const windowGrowth: ByteBudget = new ByteBudget(GROWTH_BUDGET);

export class ReceiveWindows {
  readonly #writer: FrameWriter;
  readonly #growth: ByteBudget;
  /** The connection window this side keeps open. */
  readonly #target: number;
  /** The stream window this side announced. */
  readonly #streamTarget: number;
  /** Window the peer may still fill on the connection. */
  #window = INITIAL_WINDOW;
  #unacked = 0;
  /** Stream window the peer may assume for new streams. */
  #streamInitial: number;
  #acked = false;
  /** False once the connection closes: nothing more is given back. */
  open = true;

  constructor(
    writer: FrameWriter,
    connectionWindow: number,
    streamWindow: number,
    growth: ByteBudget = windowGrowth,
  ) {
    this.#writer = writer;
    this.#growth = growth;
    this.#target = connectionWindow;
    this.#streamTarget = streamWindow;
    this.#streamInitial = Math.max(streamWindow, INITIAL_WINDOW);
  }

  /** The receive window a new stream starts with. */
  get streamInitial(): number {
    return this.#streamInitial;
  }

  /** Opens the connection window to its target (with the first SETTINGS). */
  start(): void {
    if (this.#target > INITIAL_WINDOW) {
      this.#writer.windowUpdate(0, this.#target - INITIAL_WINDOW);
      this.#window = this.#target;
    }
  }

  /**
   * The peer acknowledged our SETTINGS: a smaller stream window now applies to the open streams
   * (`streams()` lists them; called only then, so a repeated ACK costs nothing).
   */
  settingsAcknowledged(streams: () => Iterable<Stream>): void {
    if (this.#acked) return;
    this.#acked = true;
    const delta = this.#streamTarget - this.#streamInitial;
    this.#streamInitial = this.#streamTarget;
    if (delta !== 0) {
      for (const s of streams()) {
        s.recvWindow += delta;
        s.recvTarget += delta;
      }
    }
  }

  /** Accounts a DATA frame of `length` flow-controlled bytes on the connection. */
  received(length: number): void {
    if (length > this.#window) {
      throw new ConnectionError(
        ErrorCode.FLOW_CONTROL_ERROR,
        `DATA of ${length} bytes beyond the connection window (${this.#window})`,
      );
    }
    this.#window -= length;
  }

  /** Accounts `length` bytes on `stream` (after `received`); throws beyond its window. */
  receivedOn(stream: Stream, length: number): void {
    if (length > stream.recvWindow) {
      this.discarded(length);
      throw new StreamError(
        stream.id,
        ErrorCode.FLOW_CONTROL_ERROR,
        `DATA of ${length} bytes beyond the stream window (${stream.recvWindow})`,
      );
    }
    stream.recvWindow -= length;
  }

  /** The consumer took `n` bytes of `stream`'s data: give them back on both windows. */
  consumed(stream: Stream, n: number): void {
    if (!this.open) return;
    this.discarded(n);
    if (stream.closed || stream.endReceived) return;
    stream.unacked += n;
    if (stream.unacked < stream.recvTarget / 2) return;
    let increment = stream.unacked;
    // The peer used nearly all of the window before this update: the window, not the consumer,
    // limits the stream.
    const target = stream.recvTarget;
    if (
      stream.recvWindow < target / 4 && target < MAX_STREAM_WINDOW &&
      this.#growth.take(target)
    ) {
      increment += target;
      stream.grown += target;
      stream.recvTarget = target * 2;
    }
    this.#writer.windowUpdate(stream.id, increment);
    stream.recvWindow += increment;
    stream.unacked = 0;
  }

  /** `stream` left the connection: its window growth goes back to the budget. */
  streamClosed(stream: Stream): void {
    if (stream.grown === 0) return;
    this.#growth.give(stream.grown);
    stream.grown = 0;
  }

  /** `n` bytes nobody will read: give them back on the connection window. */
  discarded(n: number): void {
    this.#unacked += n;
    if (this.#unacked >= this.#target / 2 && this.open) {
      this.#writer.windowUpdate(0, this.#unacked);
      this.#window += this.#unacked;
      this.#unacked = 0;
    }
  }
}
