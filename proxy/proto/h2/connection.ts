/**
 * The core both sides of an HTTP/2 connection share: frame handling by type, the stream table,
 * receive-side flow control, settings, PING, GOAWAY, the flood budgets, errors and closing. The
 * pieces it drives: reader.ts (the read loop), header_block.ts (HEADERS + CONTINUATION, HPACK),
 * outbound.ts (sending fields, DATA and bodies), writer.ts (one socket write per turn).
 * `server.ts` and `client.ts` add what differs: who opens streams and what a header block means.
 *
 * Errors: a `StreamError` raised while handling a frame resets that stream and reading goes on;
 * a `ConnectionError` sends GOAWAY with its code and closes. Closing writes what is queued,
 * half-closes, and keeps reading (and discarding) for up to a second, so the peer reads the
 * GOAWAY instead of a TCP reset.
 *
 * Flow control (receiving): the connection window (`connectionWindowSize`, default 1 MiB) and each
 * stream's window (`initialWindowSize`, default 64 KiB) are given back as the consumer reads, in
 * WINDOW_UPDATEs of at least half a window, so memory per connection is bounded by the
 * connection window, per stream by its window. Data for streams nobody will read (reset, closed)
 * is given back at once.
 *
 * @module
 */
import {
  ConnectionError,
  ErrorCode,
  errorName,
  H2ConnectionClosedError,
  StreamError,
} from "./errors.ts";
import {
  CLIENT_PREFACE,
  type DataFrame,
  type Frame,
  FrameType,
  type GoawayFrame,
  MAX_WINDOW,
  type SettingsFrame,
  type UnknownFrame,
  type WindowUpdateFrame,
} from "./frames.ts";
import { DEFAULT_BUDGETS, FloodGuard, type FloodKind, type H2Stats } from "./guard.ts";
import { type HeaderBlock, HeaderBlockReader } from "./header_block.ts";
import { ReceiveWindows } from "./flow.ts";
import { DEFAULT_CONNECTION_WINDOW, type H2Event, type H2Options } from "./options.ts";
import { Sender } from "./outbound.ts";
import { FrameReader } from "./reader.ts";
import { applySettings, initialSettings, type Settings, settingsEntries } from "./settings.ts";
import type { Stream, StreamHost } from "./stream.ts";
import type { HeaderList } from "../header_list.ts";
import { IdTable } from "../../net/id_table.ts";
import { FrameWriter, type Transport } from "./writer.ts";

/** How long a closing connection keeps reading so the peer gets its GOAWAY. */
const LINGER_MS = 1000;
/** Stream ids this side reset, remembered so frames in flight for them are ignored. */
const RECENT_RESETS = 256;
/** A stream WINDOW_UPDATE below this increment counts as "small" (flood accounting). */
const SMALL_WINDOW_UPDATE = 1024;

type State = "open" | "closing" | "closed";

export abstract class H2Connection implements StreamHost {
  protected readonly transport: Transport;
  protected readonly writer: FrameWriter;
  /** Open streams by id: an IdTable, not a Map (net/id_table.ts says why). */
  protected readonly streams = new IdTable<Stream>();
  /** Settings this side announced. */
  protected readonly local: Settings;
  /** Settings the peer announced (initial values until its SETTINGS arrive). */
  protected readonly peer: Settings = initialSettings();
  protected readonly stats: H2Stats | undefined;
  protected readonly sender: Sender;
  readonly #reader: FrameReader;
  readonly #blocks: HeaderBlockReader;
  readonly #onEvent: ((event: H2Event) => void) | undefined;
  readonly #onStreamCount: ((open: number, awaitingPeer: number) => void) | undefined;
  /**
   * Open streams that wait on the peer alone: ended on this side and waiting for its END_STREAM,
   * or with DATA to send and waiting for it to open a flow-control window.
   */
  #awaitingPeer = 0;
  readonly #guard: FloodGuard;
  readonly #isServer: boolean;
  /** Highest stream id the peer opened (server) or this side opened (client). */
  protected lastPeerStreamId = 0;
  readonly #flow: ReceiveWindows;
  #needSettings = true;
  readonly #recentResets: number[] = [];
  readonly #recentResetSet = new Set<number>();
  #state: State = "open";
  readonly #pings = new Map<string, () => void>();
  #closedNotified = false;
  #closedResolve!: () => void;
  /** Resolves once the transport is closed. */
  readonly closed: Promise<void>;

  constructor(
    transport: Transport,
    isServer: boolean,
    local: Settings,
    options: H2Options,
    initialBytes?: Uint8Array,
  ) {
    this.transport = transport;
    this.#isServer = isServer;
    this.local = local;
    this.stats = options.stats;
    this.#onEvent = options.onEvent;
    this.#onStreamCount = options.onStreamCount;
    this.#guard = new FloodGuard({ ...DEFAULT_BUDGETS, ...options.budgets });
    this.closed = new Promise((resolve) => this.#closedResolve = resolve);
    this.writer = new FrameWriter(
      transport,
      (err) => this.#transportFailed(err),
      options.writeWatch,
    );
    this.#flow = new ReceiveWindows(
      this.writer,
      options.connectionWindowSize ?? DEFAULT_CONNECTION_WINDOW,
      local.initialWindowSize,
    );
    this.sender = new Sender(this.writer, this.peer, {
      endSent: (stream) => this.endSent(stream),
      bodyFailed: (stream, err) => this.resetStream(stream, ErrorCode.INTERNAL_ERROR, err),
      windowWait: (_stream, waiting) => {
        this.#awaitingPeer += waiting ? 1 : -1;
        this.#onStreamCount?.(this.streams.size, this.#awaitingPeer);
      },
    }, options.stats);
    this.#blocks = new HeaderBlockReader(
      local.maxHeaderListSize,
      local.headerTableSize,
      (message) => this.#calm("continuationFlood", message),
    );
    // deno-lint-ignore no-this-alias
    const conn = this;
    this.#reader = new FrameReader(
      transport,
      {
        frame: (frame) => this.#dispatch(frame),
        streamError: (err) => this.#streamError(err),
        connectionError: (err) => this.#connectionError(err),
        get accepting() {
          return conn.#state === "open";
        },
        maxFrameSize: local.maxFrameSize,
      },
      isServer,
      initialBytes,
    );
  }

  /** Streams open now (neither done nor reset). */
  get openStreams(): number {
    return this.streams.size;
  }

  /** True once the connection is closing or closed: no new streams. */
  get closing(): boolean {
    return this.#state !== "open";
  }

  /** Sends the preface (client) and SETTINGS, then reads until the connection ends. */
  protected start(): void {
    if (!this.#isServer) this.writer.raw(CLIENT_PREFACE);
    this.writer.settings(settingsEntries(this.local));
    this.#flow.start();
    void this.#reader.run().then(() =>
      this.#finish(
        new H2ConnectionClosedError("Cannot continue HTTP/2 stream: the connection closed", false),
      )
    );
  }

  // --- role hooks ------------------------------------------------------------------------

  /** A complete, decoded header block (`tooLarge`: fields past the list limit were left out). */
  protected abstract onHeaderBlock(block: HeaderBlock): void;

  /** The peer sent GOAWAY. */
  protected abstract onGoaway(lastStreamId: number, code: number, debug: string): void;

  /** A stream was removed (done or reset). */
  protected streamRemoved(_stream: Stream): void {}

  /** The connection ended: fail what is left with `err`. */
  protected onClosed(_err: H2ConnectionClosedError): void {}

  /** True when frames on `id` mean the stream was never opened (idle, RFC 9113 5.1). */
  protected abstract isIdle(id: number): boolean;

  /** Lets the writer's grown buffers go while the connection is idle. */
  protected trimBuffers(): void {
    this.writer.trim();
  }

  // --- frames ------------------------------------------------------------------------------

  #dispatch(frame: Frame | UnknownFrame): void {
    if (this.#needSettings) {
      if (frame.type !== FrameType.SETTINGS || (frame as SettingsFrame).ack) {
        throw new ConnectionError(
          ErrorCode.PROTOCOL_ERROR,
          "the peer's first frame is not SETTINGS",
        );
      }
      this.#needSettings = false;
    }
    const inProgress = this.#blocks.inProgress;
    if (inProgress !== 0 && frame.type !== FrameType.CONTINUATION) {
      throw new ConnectionError(
        ErrorCode.PROTOCOL_ERROR,
        `frame of type ${frame.type} inside the header block of stream ${inProgress}`,
      );
    }
    if ("unknown" in frame) return;
    switch (frame.type) {
      case FrameType.DATA:
        return this.#onData(frame);
      case FrameType.HEADERS:
        return this.#headerBlock(this.#blocks.headers(frame));
      case FrameType.PRIORITY:
        if (frame.priority.dependency === frame.streamId) {
          throw new StreamError(
            frame.streamId,
            ErrorCode.PROTOCOL_ERROR,
            "stream depends on itself",
          );
        }
        return this.#spend("priority");
      case FrameType.RST_STREAM:
        return this.#onRstStream(frame.streamId, frame.code);
      case FrameType.SETTINGS:
        return this.#onSettings(frame);
      case FrameType.PUSH_PROMISE:
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "PUSH_PROMISE, but push is disabled");
      case FrameType.PING:
        if (frame.ack) {
          const key = String.fromCharCode(...frame.data);
          const waiter = this.#pings.get(key);
          this.#pings.delete(key);
          waiter?.();
          return;
        }
        if (!this.sender.sentStreamFrames) this.#spend("pings");
        this.sender.sentStreamFrames = false;
        this.writer.ping(true, frame.data);
        return this.#checkBacklog();
      case FrameType.GOAWAY:
        return this.#onGoawayFrame(frame);
      case FrameType.WINDOW_UPDATE:
        return this.#onWindowUpdate(frame);
      case FrameType.CONTINUATION:
        return this.#headerBlock(this.#blocks.continuation(frame));
    }
  }

  #headerBlock(block: HeaderBlock | null): void {
    if (block === null) return;
    if (block.tooLarge && this.stats) this.stats.headerListTooLarge++;
    this.onHeaderBlock(block);
  }

  #onData(frame: DataFrame): void {
    const length = frame.flowLength;
    const flow = this.#flow;
    flow.received(length);
    const stream = this.streams.get(frame.streamId);
    if (stream === undefined) {
      flow.discarded(length);
      this.#frameForUnknownStream(frame.streamId, "DATA", frame.endStream);
      return;
    }
    if (stream.endReceived) {
      flow.discarded(length);
      throw new StreamError(stream.id, ErrorCode.STREAM_CLOSED, "DATA after END_STREAM");
    }
    if (stream.inbound === null && !this.#isServer) {
      // A response starts with its final head (RFC 9113 8.1); DATA before it is malformed, and
      // its END_STREAM would end the stream with the response still awaited.
      flow.discarded(length);
      if (this.stats) this.stats.malformedMessages++;
      throw new StreamError(stream.id, ErrorCode.PROTOCOL_ERROR, "DATA before the response head");
    }
    flow.receivedOn(stream, length);
    const data = frame.data;
    if (length > data.length) flow.consumed(stream, length - data.length);
    stream.received += data.length;
    const cl = stream.contentLength;
    if (cl >= 0 && (stream.received > cl || (frame.endStream && stream.received !== cl))) {
      flow.discarded(data.length);
      if (this.stats) this.stats.malformedMessages++;
      throw new StreamError(
        stream.id,
        ErrorCode.PROTOCOL_ERROR,
        `body of ${stream.received}${frame.endStream ? "" : "+"} bytes, content-length ${cl}`,
      );
    }
    if (data.length === 0 && !frame.endStream) this.#spend("emptyData");
    const inbound = stream.inbound;
    if (inbound === null || inbound.cancelled) flow.consumed(stream, data.length);
    else inbound.push(data);
    if (frame.endStream) this.endReceived(stream, null);
  }

  /**
   * A frame for a stream not in the table: idle (connection error), reset by this side (ignored
   * until the peer ends or resets its side too: it may not have seen our RST_STREAM yet), or
   * closed (STREAM_CLOSED).
   */
  #frameForUnknownStream(id: number, what: string, ends: boolean): void {
    if (this.isIdle(id)) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `${what} on idle stream ${id}`);
    }
    if (this.#recentResetSet.has(id)) {
      if (ends) this.#recentResetSet.delete(id);
      return;
    }
    if (what === "HEADERS") {
      throw new ConnectionError(ErrorCode.STREAM_CLOSED, `HEADERS on closed stream ${id}`);
    }
    throw new StreamError(id, ErrorCode.STREAM_CLOSED, `${what} on closed stream ${id}`);
  }

  /** For role code: a header block arrived for a stream not in the table and not new. */
  protected headersForUnknownStream(id: number, endStream: boolean): void {
    this.#frameForUnknownStream(id, "HEADERS", endStream);
  }

  #onRstStream(id: number, code: number): void {
    const stream = this.streams.get(id);
    if (stream === undefined) {
      if (this.isIdle(id)) {
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `RST_STREAM on idle stream ${id}`);
      }
      this.#recentResetSet.delete(id);
      return;
    }
    this.#spend("resets");
    this.retire(stream);
    stream.fail(this.peerReset(stream, code));
  }

  /** The error a stream fails with when the peer resets it (the client makes it retryable). */
  protected abstract peerReset(stream: Stream, code: number): Error;

  #onSettings(frame: SettingsFrame): void {
    if (frame.ack) {
      this.#flow.settingsAcknowledged(() => this.streams.values());
      return;
    }
    this.#spend("settings");
    const oldWindow = this.peer.initialWindowSize;
    const oldTable = this.peer.headerTableSize;
    applySettings(this.peer, frame.settings, !this.#isServer);
    if (this.peer.headerTableSize !== oldTable) {
      this.sender.peerTableSize(this.peer.headerTableSize);
    }
    const delta = this.peer.initialWindowSize - oldWindow;
    if (delta !== 0) {
      for (const s of this.streams.values()) {
        s.sendWindow += delta;
        if (s.sendWindow > MAX_WINDOW) {
          throw new ConnectionError(
            ErrorCode.FLOW_CONTROL_ERROR,
            "SETTINGS_INITIAL_WINDOW_SIZE takes a stream window above 2^31-1",
          );
        }
        if (delta > 0) s.wake();
      }
    }
    this.writer.settingsAck();
    this.settingsChanged();
    this.#checkBacklog();
  }

  /** The peer's settings changed (the client may open more streams). */
  protected settingsChanged(): void {}

  #onGoawayFrame(frame: GoawayFrame): void {
    const debug = new TextDecoder().decode(frame.debug);
    this.#event({
      kind: "goaway_received",
      code: frame.code,
      message: `Peer sent GOAWAY: last stream ${frame.lastStreamId}, ${errorName(frame.code)}${
        debug ? ` (${debug})` : ""
      }`,
    });
    this.onGoaway(frame.lastStreamId, frame.code, debug);
  }

  #onWindowUpdate(frame: WindowUpdateFrame): void {
    const { streamId: id, increment } = frame;
    if (id === 0) {
      if (increment === 0) {
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE of 0 on the connection");
      }
      this.sender.window += increment;
      if (this.sender.window > MAX_WINDOW) {
        throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "connection window above 2^31-1");
      }
      this.sender.connectionWindowOpened();
      return;
    }
    if (this.isIdle(id)) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `WINDOW_UPDATE on idle stream ${id}`);
    }
    if (increment === 0) {
      throw new StreamError(id, ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE of 0 on a stream");
    }
    const stream = this.streams.get(id);
    if (stream === undefined) return;
    if (increment < SMALL_WINDOW_UPDATE) this.#spend("smallWindowUpdates");
    stream.sendWindow += increment;
    if (stream.sendWindow > MAX_WINDOW) {
      throw new StreamError(id, ErrorCode.FLOW_CONTROL_ERROR, "stream window above 2^31-1");
    }
    stream.wake();
  }

  // --- flow control: receiving ---------------------------------------------------------

  /** StreamHost: the consumer took `n` bytes of `stream`'s data. */
  consumed(stream: Stream, n: number): void {
    this.#flow.consumed(stream, n);
  }

  /** StreamHost: the consumer cancelled `stream`'s incoming body. */
  abstract bodyCancelled(stream: Stream, reason: unknown): void;

  /** The receive window a new stream starts with. */
  protected get initialRecvWindow(): number {
    return this.#flow.streamInitial;
  }

  // --- stream lifecycle ----------------------------------------------------------------

  /** Adds a new stream to the table. */
  protected addStream(stream: Stream): void {
    this.streams.set(stream.id, stream);
    this.#onStreamCount?.(this.streams.size, this.#awaitingPeer);
  }

  /** The peer ended its side of `stream` (END_STREAM), with `trailers` or null. */
  protected endReceived(stream: Stream, trailers: HeaderList | null): void {
    if (stream.endSent && !stream.endReceived) this.#awaitingPeer--;
    stream.endReceived = true;
    stream.inbound?.end(trailers);
    if (stream.endSent) this.retire(stream);
  }

  /** This side ended its side of `stream`. */
  protected endSent(stream: Stream): void {
    stream.endSent = true;
    if (stream.endReceived) {
      this.retire(stream);
    } else {
      this.#awaitingPeer++;
      this.#onStreamCount?.(this.streams.size, this.#awaitingPeer);
    }
  }

  /** Removes `stream` from the table (both sides done, or reset). */
  protected retire(stream: Stream): void {
    if (stream.closed) return;
    if (stream.endSent && !stream.endReceived) this.#awaitingPeer--;
    stream.closed = true;
    stream.endSent = stream.endReceived = true;
    this.streams.delete(stream.id);
    this.#flow.streamClosed(stream);
    this.sender.forget(stream);
    this.streamRemoved(stream);
    this.#onStreamCount?.(this.streams.size, this.#awaitingPeer);
  }

  /** Resets `stream` from this side with `code`; its users see `reason`. */
  protected resetStream(stream: Stream, code: number, reason: unknown): void {
    if (stream.closed) return;
    this.resetId(stream.id, code);
    this.retire(stream);
    stream.fail(
      reason instanceof Error
        ? reason
        : new Error(`Cannot continue HTTP/2 stream: ${String(reason)}`),
    );
  }

  /** Sends RST_STREAM for `id` and remembers it, so frames in flight for it are ignored. */
  protected resetId(id: number, code: number): void {
    if (this.#state !== "open") return;
    this.writer.rstStream(id, code);
    this.#recentResets.push(id);
    this.#recentResetSet.add(id);
    if (this.#recentResets.length > RECENT_RESETS) {
      this.#recentResetSet.delete(this.#recentResets.shift()!);
    }
    this.#checkBacklog();
  }

  #streamError(err: StreamError): void {
    if (this.stats) this.stats.streamErrors++;
    this.#event({
      kind: "stream_error",
      code: err.code,
      message: `Cannot continue HTTP/2 stream ${err.streamId}: ${err.message}`,
      streamId: err.streamId,
    });
    this.#spend("resets");
    const stream = this.streams.get(err.streamId);
    if (stream) {
      this.resetStream(stream, err.code, new StreamError(err.streamId, err.code, err.message));
    } else this.resetId(err.streamId, err.code);
  }

  // --- defences --------------------------------------------------------------------------

  /** Accounts a frame against its flood budget; out of budget, the connection is closed. */
  #spend(kind: FloodKind): void {
    const counter = this.#guard.spend(kind);
    if (counter === null) return;
    this.#calm(counter, `${kind} beyond the budget of this connection`);
    throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, `${kind} flood`);
  }

  #calm(counter: keyof H2Stats, message: string): void {
    if (this.stats) this.stats[counter]++;
    this.#event({
      kind: "connection_error",
      code: ErrorCode.ENHANCE_YOUR_CALM,
      message: `Cannot keep HTTP/2 connection: ${message}`,
    });
  }

  #checkBacklog(): void {
    if (!this.writer.overloaded) return;
    this.#calm("writeBacklog", "the peer does not read what it asks for");
    throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "write backlog");
  }

  #event(event: H2Event): void {
    this.#onEvent?.(event);
  }

  // --- PING ------------------------------------------------------------------------------

  /** Sends a PING and resolves with the round-trip time in ms once the peer answers. */
  ping(): Promise<number> {
    if (this.#state !== "open") {
      return Promise.reject(
        new H2ConnectionClosedError("Cannot ping: the connection is closing", false),
      );
    }
    const data = crypto.getRandomValues(new Uint8Array(8));
    const key = String.fromCharCode(...data);
    const sent = performance.now();
    return new Promise((resolve, reject) => {
      this.#pings.set(key, () => resolve(performance.now() - sent));
      this.closed.then(() =>
        reject(new H2ConnectionClosedError("Cannot ping: the connection closed", false))
      );
      this.writer.ping(false, data);
    });
  }

  // --- closing ---------------------------------------------------------------------------

  /** Sends GOAWAY with `lastStreamId` (this side goes on with the streams up to it). */
  protected sendGoaway(lastStreamId: number, code: number, message: string): void {
    if (this.#state === "open") this.writer.goaway(lastStreamId, code, message);
  }

  #connectionError(err: ConnectionError): void {
    if (err.code !== ErrorCode.ENHANCE_YOUR_CALM && this.stats) this.stats.connectionErrors++;
    if (err.code !== ErrorCode.ENHANCE_YOUR_CALM) {
      this.#event({
        kind: "connection_error",
        code: err.code,
        message: `Cannot continue HTTP/2 connection: ${err.message}`,
      });
    }
    this.close(err.code, err.message);
  }

  /**
   * Closes the connection now: GOAWAY with `code` (NO_ERROR: a deadline or shutdown), every open
   * stream fails, the socket closes after the GOAWAY is written.
   */
  close(code: number = ErrorCode.NO_ERROR, message = ""): void {
    if (this.#state !== "open") return;
    this.writer.goaway(this.lastPeerStreamId, code, message);
    this.#state = "closing";
    this.#flow.open = false;
    const err = new H2ConnectionClosedError(
      `Cannot continue HTTP/2 stream: the connection was closed (${errorName(code)}${
        message ? `: ${message}` : ""
      })`,
      false,
      code,
    );
    this.#failStreams(err);
    void this.#linger();
  }

  /** Closes once the queue is written, without GOAWAY (after a graceful GOAWAY was sent). */
  protected closeQuietly(): void {
    if (this.#state !== "open") return;
    this.#state = "closing";
    this.#flow.open = false;
    this.#failStreams(
      new H2ConnectionClosedError("Cannot continue HTTP/2 stream: the connection closed", false),
    );
    void this.#linger();
  }

  async #linger(): Promise<void> {
    const timer = setTimeout(() => this.#closeTransport(), LINGER_MS);
    try {
      await this.writer.flush();
      await this.transport.closeWrite?.();
    } catch {
      this.#closeTransport();
    }
    // The read loop goes on discarding until the peer closes or the timer fires.
    void this.closed.then(() => clearTimeout(timer));
  }

  #closeTransport(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#flow.open = false;
    try {
      this.transport.close();
    } catch {
      // already closed
    }
  }

  #transportFailed(err: unknown): void {
    this.#finish(
      new H2ConnectionClosedError(
        `Cannot continue HTTP/2 stream: writing to the connection failed (${
          err instanceof Error ? err.message : String(err)
        })`,
        false,
      ),
    );
  }

  /** The transport is done (peer closed, failed, or we closed it): settle everything. */
  #finish(err: H2ConnectionClosedError): void {
    this.#failStreams(err);
    this.#closeTransport();
    this.#closedResolve();
  }

  #failStreams(err: H2ConnectionClosedError): void {
    this.#blocks.reset();
    for (const stream of this.streams.values()) {
      this.retire(stream);
      stream.fail(err);
    }
    if (!this.#closedNotified) {
      this.#closedNotified = true;
      this.onClosed(err);
    }
  }
}
