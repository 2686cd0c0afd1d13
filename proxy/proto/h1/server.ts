/**
 * The HTTP/1.1 server side: one loop per client connection reading request heads under a
 * deadline, handing each request to the pipeline, and writing the response with keep-alive.
 *
 * Our own engine instead of Deno.serve for HTTP/1.1 because it can hand a raw connection to an
 * Upgrade tunnel, enforce a header-read deadline and a header size limit, and keep byte-exact
 * header values (see the README's architecture section for the measurements).
 */
import { listHasToken } from "../header_list.ts";
import { proxyResponse } from "../responses.ts";
import { Rejection } from "../rejection.ts";
import {
  type BodyReader,
  type ClientInfo,
  type Handler,
  type IncomingRequest,
  type OutgoingResponse,
  TAKEN_OVER,
  type TakenConnection,
} from "../message.ts";
import type { ConnectionRegistry, TrackedConnection } from "../../net/connections.ts";
import {
  BareCrError,
  BufferedConn,
  type ByteConn,
  HeadTooLargeError,
  writeAll,
} from "../../net/buffered_conn.ts";
import { bodyReader, trailersOf } from "./body.ts";
import { HttpParseError, parseRequestHead, requestFraming, type RequestHead } from "./parse.ts";
import { encodeHead, releaseHead, serializeFields, writeResponse } from "./write.ts";
import { monotonicNow } from "../../clock.ts";

/** Limits read from the live config before each request (so a reload applies at once). */
export interface H1Limits {
  readonly headerReadMs: number;
  readonly keepAliveIdleMs: number;
  readonly maxHeaderBytes: number;
  /**
   * The longest one write of a response may wait for the client to take bytes (0 = none),
   * unless the response says otherwise (`OutgoingResponse.sendIdleMs`).
   */
  readonly sendIdleMs: number;
}

export interface H1ServerOptions {
  readonly client: ClientInfo;
  /** The connection's buffer when bytes were already read from it (sniffing for h2c). */
  readonly io?: BufferedConn;
  readonly track: TrackedConnection;
  readonly registry: ConnectionRegistry;
  readonly limits: () => H1Limits;
  readonly handler: Handler;
  /**
   * Called for a request the pipeline never saw (malformed, too large), with its head when it
   * could be parsed, before the answer is written.
   */
  readonly onRejected?: (
    rejection: Rejection,
    head: RequestHead | null,
    client: ClientInfo,
  ) => void;
}

const CONTINUE = new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n");
/** Unread request body the server discards to keep a connection alive, at most. */
const MAX_DISCARD = 256 * 1024;
const BUFFER_SIZE = 1024;
/** A buffer grown for a large head is kept up to this size (the next head is likely as large). */
const KEEP_BUFFER = 8 * 1024;

/** Serves HTTP/1.1 on `conn` until the peer closes, an error, a deadline or shutdown. */
export async function serveH1(conn: ByteConn, opts: H1ServerOptions): Promise<void> {
  const io = opts.io ?? new BufferedConn(conn, BUFFER_SIZE);
  const { track, registry } = opts;
  let first = true;
  let after: AfterExchange = "keep";
  try {
    while (!track.closing && after === "keep") {
      // Idle until a request begins: here, so that an idle connection holds one suspended
      // function (this loop) and one read, not the frames of serveNext and readHead (idle
      // connections are what a proxy holds most of; docs/runtime.md, question 9). Blank lines
      // before a request leave it idle and do not move its deadline.
      let begun = io.skipBlankLines() > 0;
      if (!begun) {
        waitIdle(opts, first);
        while (!begun && await io.fill()) begun = io.skipBlankLines() > 0;
      }
      after = begun ? await serveNext(io, opts) : "close";
      first = false;
      if (after === "keep") io.shrink(KEEP_BUFFER, BUFFER_SIZE);
    }
  } finally {
    if (after !== "taken") {
      if (after === "close") await linger(io, track);
      io.close();
      registry.delete(track);
    }
  }
}

/** How long a closing connection keeps reading what the client still sends, at most. */
const LINGER_MS = 2_000;
/** How much of it, at most. */
const LINGER_BYTES = 1024 * 1024;

/**
 * A lingering close, as nginx and Apache do: closing a socket whose peer's bytes were not read
 * makes the kernel answer with a reset, and a client that is still sending (an upload refused
 * with 413, a request after a refusal) may then lose the answer it was sent, since some stacks
 * drop received data on a reset. So this side's half is closed first (the client sees the end
 * of the answer), and what the client still sends is read and dropped until it closes too,
 * LINGER_MS or LINGER_BYTES. An idle connection to the registry: shutdown does not wait for it.
 */
async function linger(io: BufferedConn, track: TrackedConnection): Promise<void> {
  if (io.eof || track.closed) return;
  track.state = "idle";
  track.deadline = monotonicNow() + LINGER_MS;
  try {
    await io.conn.closeWrite();
  } catch {
    // already half-closed (a refusal does it after its answer)
  }
  try {
    for (let dropped = 0; dropped < LINGER_BYTES;) {
      const chunk = await io.readSome(64 * 1024);
      if (chunk === null) return;
      dropped += chunk.length;
      io.reclaim();
    }
  } catch {
    // reset by the peer, or closed at the deadline
  }
}

/** The connection waits for a request: the first within header_read, others keep_alive_idle. */
function waitIdle(opts: H1ServerOptions, first: boolean): void {
  const { track } = opts;
  const limits = opts.limits();
  track.state = "idle";
  track.deadline = monotonicNow() + (first ? limits.headerReadMs : limits.keepAliveIdleMs);
}

/** After one exchange: serve the next, close the connection, or it became a tunnel. */
type AfterExchange = "keep" | "close" | "taken";

/**
 * Reads and answers one request. A function of its own because a suspended async function keeps
 * every local it ever held: the connection's loop, which waits on an idle keep-alive connection
 * for as long as the client likes, must not hold the last request in memory.
 */
async function serveNext(io: BufferedConn, opts: H1ServerOptions): Promise<AfterExchange> {
  const { track } = opts;
  const limits = opts.limits();
  track.writeIdleMs = limits.sendIdleMs;
  track.state = "active";
  let headBytes: Uint8Array | null | undefined;
  try {
    headBytes = io.headNow(limits.maxHeaderBytes);
    if (headBytes === undefined) {
      // Its first bytes are here (serveH1's loop): the rest must follow within header_read.
      track.deadline = monotonicNow() + limits.headerReadMs;
      headBytes = await io.readHead(limits.maxHeaderBytes);
    }
  } catch (err) {
    if (err instanceof HeadTooLargeError) {
      await reject(io, opts, new Rejection(431, "head_too_large", "request head too large"));
    } else if (err instanceof BareCrError) {
      await reject(io, opts, new Rejection(400, "bare_cr", "CR not followed by LF in the head"));
    }
    return "close";
  }
  if (headBytes === null) return "close";
  track.deadline = 0;
  let head: RequestHead | null = null;
  let framing;
  try {
    head = parseRequestHead(headBytes);
    framing = requestFraming(head);
  } catch (err) {
    if (err instanceof HttpParseError) {
      await reject(io, opts, new Rejection(err.status, err.reason, err.message), head);
    }
    return "close";
  }
  const exchange = new Exchange(io, head, opts);
  const keepGoing = await exchange.run(framing);
  if (exchange.takenOver) return "taken";
  return keepGoing ? "keep" : "close";
}

/** One request and its response on a connection. */
class Exchange {
  takenOver = false;
  readonly #io: BufferedConn;
  readonly #head: RequestHead;
  readonly #opts: H1ServerOptions;
  readonly #abort = new AbortController();
  /**
   * What the client watch aborts; emptied when the exchange ends, because the read it waits on
   * outlives the exchange on an idle keep-alive connection and must not keep it in memory.
   */
  readonly #watch: { abort: AbortController | null } = { abort: this.#abort };
  #bodyDone = false;
  #bodyClean = true;

  constructor(io: BufferedConn, head: RequestHead, opts: H1ServerOptions) {
    this.#io = io;
    this.#head = head;
    this.#opts = opts;
  }

  /** Resolves true when the connection may serve another request. */
  async run(framing: ReturnType<typeof requestFraming>): Promise<boolean> {
    try {
      return await this.#run(framing);
    } finally {
      this.#watch.abort = null;
      this.#opts.track.onSweep = null;
    }
  }

  async #run(framing: ReturnType<typeof requestFraming>): Promise<boolean> {
    const head = this.#head;
    const io = this.#io;
    const headers = head.headers;
    const connection = headers.getJoined("connection");
    // h2c is never tunnelled (the pipeline removes it): the request stays a plain one.
    const upgrade = headers.getJoined("upgrade");
    const wantsUpgrade = head.version === "1.1" && upgrade !== null &&
      listHasToken(connection, "upgrade") && !listHasToken(upgrade, "h2c");
    let body = bodyReader(io, framing, (clean) => this.#onBodyDone(clean, wantsUpgrade));
    const trailers = trailersOf(body);
    // Read before the pipeline strips TE (hop-by-hop): may the response carry trailers?
    const acceptsTrailers = head.version === "1.1" &&
      listHasToken(headers.getJoined("te"), "trailers");
    if (body !== null && listHasToken(headers.get("expect"), "100-continue")) {
      body = new ContinueBody(body, io);
    }
    headers.delete("expect");
    if (body === null && !wantsUpgrade) this.#watchClient();
    const req: IncomingRequest = {
      method: head.method,
      target: head.target,
      authority: null,
      httpVersion: head.version,
      headers,
      body,
      trailers,
      client: this.#opts.client,
      signal: this.#abort.signal,
      takeover: head.version === "1.1" ? (route) => this.#takeover(route) : null,
    };
    let res: OutgoingResponse | typeof TAKEN_OVER;
    try {
      res = await this.#opts.handler(req);
    } catch {
      res = proxyResponse(500);
    }
    if (res === TAKEN_OVER) return false;
    if (res.sendIdleMs !== undefined) this.#opts.track.writeIdleMs = res.sendIdleMs;
    let keepAlive = !this.#opts.track.closing && res.close !== true &&
      (!this.#bodyDone || this.#bodyClean) &&
      (head.version === "1.1"
        ? !listHasToken(connection, "close")
        : listHasToken(connection, "keep-alive"));
    if (!this.#bodyDone) {
      keepAlive = keepAlive && body !== null && body.length >= 0 &&
        body.length <= MAX_DISCARD;
    }
    let complete: boolean;
    try {
      complete = await writeResponse(
        io,
        res,
        head.method,
        head.version,
        keepAlive,
        acceptsTrailers,
        this.#opts.track,
      );
    } catch {
      return false;
    }
    if (!complete || !keepAlive) return false;
    if (!this.#bodyDone && body !== null) {
      // The upstream answered without the whole body: its rest, read and dropped, counts as
      // the wait for the next request's head, so a client that stops sending cannot hold the
      // connection (and the upstream connection still taking the body) with no deadline.
      this.#opts.track.deadline = monotonicNow() + this.#opts.limits().headerReadMs;
      return await discard(body);
    }
    return this.#bodyClean;
  }

  #onBodyDone(clean: boolean, upgrade: boolean): void {
    this.#bodyDone = true;
    this.#bodyClean = clean;
    if (clean && !upgrade) this.#watchClient();
  }

  /**
   * Aborts the request if the client closes its connection before the response is complete,
   * also while its body streams (the upstream exchange then closes its connection at once).
   *
   * The watch is a read in flight on the client connection, and one during every exchange cost
   * 3-7% of the proxy's CPU per request at saturation (docs/runtime.md, question 4). So it starts
   * at the registry's next sweep (within SWEEP_MS) and only if the exchange is still running
   * then; a client gone during a faster exchange is noticed when its response is written.
   */
  #watchClient(): void {
    this.#opts.track.onSweep = clientWatch(this.#io, this.#watch);
  }

  #takeover(route: string): TakenConnection {
    this.takenOver = true;
    const { track, registry } = this.#opts;
    track.state = "tunnel";
    track.route = route;
    track.deadline = 0;
    const conn = this.#io.conn;
    return {
      conn,
      buffered: this.#io.drainBuffer(),
      accept: (res, early) => {
        const head =
          serializeFields(res.headers, `HTTP/1.1 101 ${res.reason ?? "Switching Protocols"}\r\n`) +
          "\r\n";
        const first = encodeHead(head, early.length);
        first.set(early, head.length);
        return writeAll(conn, first).finally(() => releaseHead(first));
      },
      setDeadline: (epochMs) => track.deadline = epochMs,
      onClose: (close) => track.onClose = close,
      finish: () => registry.delete(track),
    };
  }
}

/** Sends "100 Continue" when the pipeline first reads the body. */
class ContinueBody implements BodyReader {
  #inner: BodyReader;
  #io: BufferedConn;
  #sent = false;

  constructor(inner: BodyReader, io: BufferedConn) {
    this.#inner = inner;
    this.#io = io;
  }

  get length(): number {
    return this.#inner.length;
  }

  async read(): Promise<Uint8Array | null> {
    if (!this.#sent) {
      this.#sent = true;
      await this.#io.write(CONTINUE);
    }
    return await this.#inner.read();
  }

  readNow(): Uint8Array | null | undefined {
    // The first read must go through read(), which sends the 100 Continue first.
    return this.#sent ? this.#inner.readNow?.() : undefined;
  }

  cancel(reason?: unknown): void {
    this.#inner.cancel(reason);
  }

  release(): void {
    this.#inner.release?.();
  }
}

/** Reads and drops the rest of a request body so that the connection can be reused. */
async function discard(body: BodyReader): Promise<boolean> {
  try {
    let total = 0;
    while (true) {
      const chunk = await body.read();
      if (chunk === null) return true;
      total += chunk.length;
      if (total > MAX_DISCARD) return false;
    }
  } catch {
    return false;
  }
}

/** Answers a request that could not be parsed, then lets the connection close. */
async function reject(
  io: BufferedConn,
  opts: H1ServerOptions,
  rejection: Rejection,
  head: RequestHead | null = null,
): Promise<void> {
  opts.onRejected?.(rejection, head, opts.client);
  try {
    await writeResponse(io, rejection.response(), "GET", "1.1", false);
    await io.conn.closeWrite();
  } catch {
    // the client is gone
  }
}

/**
 * Starts the watch of #watchClient. Made by a function: V8 allocates a function literal assigned
 * straight to a property (`track.onSweep = () => ...`) in the old generation, and such a closure,
 * garbage after its request, keeps what it captured alive until the next full collection
 * (docs/runtime.md, "Closures assigned to properties").
 */
function clientWatch(io: BufferedConn, watch: { abort: AbortController | null }): () => void {
  return () => {
    io.watchForData().then((more) => {
      if (!more) watch.abort?.abort(new Error("client closed the connection"));
    });
  };
}
