/**
 * The HTTP/1.1 client side: one request/response exchange on a leased upstream connection.
 *
 * It sends the head, streams the request body while it waits for the response (an upstream may
 * answer early), skips interim 1xx responses, hands back a 101 with its raw connection, and
 * returns the connection to its pool only when both bodies ended cleanly. Bodies are never
 * decoded: what the upstream sent is what the caller gets.
 */
import { listHasToken, listTokens } from "../header_list.ts";
import type { BodyReader } from "../message.ts";
import {
  type ExchangeOptions,
  UpstreamError,
  type UpstreamRequest,
  type UpstreamResponse,
} from "../exchange.ts";
import { tapBody } from "../body_tap.ts";
import type { BufferedConn } from "../../net/buffered_conn.ts";
import { type BodyDone, bodyReader, trailersOf } from "./body.ts";
import { BodyFailure, streamBody } from "./coalesce.ts";
import { HttpParseError, parseResponseHead, responseFraming, type ResponseHead } from "./parse.ts";
import { encodeHead, releaseHead, serializeRequestHead } from "./write.ts";
import { monotonicNow } from "../../clock.ts";

/**
 * The connection an HTTP/1.1 exchange runs on, borrowed from a pool; `release` gives it back
 * (reusable) or closes it.
 */
export interface ConnLease {
  readonly io: BufferedConn;
  /** True when the connection served an earlier request (it may have gone stale meanwhile). */
  readonly reused: boolean;
  /** Deadline of this connection, enforced by the connection registry's sweep. */
  setDeadline(epochMs: number): void;
  release(reusable: boolean): void;
}

/** The upstream closed the connection without sending any byte of a response. */
class NoResponseError extends Error {
  constructor() {
    super("upstream closed the connection before responding");
  }
}

/** Sends `req` on `lease` and resolves with the response head and a streaming body. */
export async function exchange(
  lease: ConnLease,
  req: UpstreamRequest,
  opts: ExchangeOptions,
): Promise<UpstreamResponse> {
  const io = lease.io;
  const body = req.body;
  const head = serializeRequestHead(
    req.method,
    req.target,
    req.host,
    req.headers,
    body === null ? null : body.length,
  );

  let deadlineAt = 0;
  const setDeadline = (ms: number) => {
    deadlineAt = ms > 0 ? monotonicNow() + ms : 0;
    lease.setDeadline(deadlineAt);
  };
  const onAbort = () => lease.release(false);
  opts.signal.addEventListener("abort", onAbort, { once: true });
  const fail = (sent: boolean, err: unknown): UpstreamError => {
    opts.signal.removeEventListener("abort", onAbort);
    lease.release(false);
    if (err instanceof UpstreamError) return err;
    if (opts.signal.aborted) return new UpstreamError("aborted", sent, "client went away");
    if (deadlineAt !== 0 && monotonicNow() >= deadlineAt) {
      return new UpstreamError("timeout", sent, "upstream did not answer in time");
    }
    const status = (err as { status?: number })?.status;
    if (status !== undefined) return new UpstreamError("protocol", sent, String(err));
    const beforeResponse = !sent || err instanceof NoResponseError;
    return new UpstreamError("reset", sent, errorText(err), beforeResponse);
  };

  let sent = false;
  let gotHead = false;
  let pump: Promise<boolean> = Promise.resolve(true);
  let response: ResponseHead;
  try {
    setDeadline(opts.bodyIdleMs);
    const headBytes = encodeHead(head, 0);
    if (body === null) {
      try {
        await io.write(headBytes);
      } finally {
        releaseHead(headBytes);
      }
      sent = true;
      setDeadline(opts.responseHeaderMs);
    } else {
      // The head goes out with the first body chunk when that is ready (see coalesce.ts).
      pump = pumpBody(io, body, headBytes, () => {
        sent = true;
        setDeadline(opts.bodyIdleMs);
      });
      pump.then((ok) => {
        if (ok && !gotHead) setDeadline(opts.responseHeaderMs);
      });
    }
    response = await readFinalHead(io, opts.maxHeaderBytes);
    if (response.status === 101 && !switchesToAsked(response, req.headers.get("upgrade"))) {
      // A 101 nobody asked for would turn the caller's connection into a raw pipe to this
      // server, past every check of the proxy (WebSocket smuggling).
      throw new HttpParseError(
        502,
        "bad_request_line",
        `upstream answered 101 (${response.headers.get("upgrade") ?? "no Upgrade"}) to a ` +
          `request that asked for ${req.headers.get("upgrade") ?? "no upgrade"}`,
      );
    }
  } catch (err) {
    throw fail(sent, err);
  }
  gotHead = true;
  setDeadline(opts.bodyIdleMs);

  if (response.status === 101) {
    opts.signal.removeEventListener("abort", onAbort);
    lease.setDeadline(0);
    const upgrade = {
      conn: io.conn,
      buffered: io.drainBuffer(),
      release: () => lease.release(false),
    };
    return { ...response, body: null, trailers: null, upgrade };
  }

  const keepAlive = response.version === "1.1"
    ? !listHasToken(response.headers.getJoined("connection"), "close")
    : listHasToken(response.headers.getJoined("connection"), "keep-alive");
  const done: BodyDone = (clean) => {
    opts.signal.removeEventListener("abort", onAbort);
    if (!clean || !keepAlive) {
      lease.release(false);
      return;
    }
    // The request body may still be uploading when the response ends: reuse only after it.
    pump.then((ok) => lease.release(ok), () => lease.release(false));
  };
  let resBody: BodyReader | null;
  try {
    resBody = bodyReader(io, responseFraming(req.method, response), done);
  } catch (err) {
    throw fail(true, err);
  }
  const trailers = trailersOf(resBody);
  if (resBody !== null && opts.bodyIdleMs > 0) {
    // Each chunk that arrives pushes the body-idle deadline forward.
    resBody = tapBody(resBody, {
      chunk: () => setDeadline(opts.bodyIdleMs),
      end: () => setDeadline(0),
    });
  }
  return { ...response, body: resBody, trailers, upgrade: null };
}

/**
 * True when a 101 switches to a protocol the request's Upgrade field (`asked`) named (ignoring
 * case; a 101 without Upgrade is taken as the one asked for), false when nothing was asked.
 */
function switchesToAsked(response: ResponseHead, asked: string | null): boolean {
  if (asked === null) return false;
  const switched = response.headers.get("upgrade");
  if (switched === null) return true;
  const protocols = listTokens(asked);
  return listTokens(switched).every((p) => protocols.includes(p));
}

/** Reads response heads until a final one (skipping 100 Continue, 103 Early Hints and others). */
async function readFinalHead(io: BufferedConn, limit: number): Promise<ResponseHead> {
  while (true) {
    const bytes = io.headNow(limit) ?? await io.readHead(limit);
    if (bytes === null) throw new NoResponseError();
    const head = parseResponseHead(bytes);
    if (head.status >= 200 || head.status === 101) return head;
  }
}

/**
 * Streams the head and body upstream; resolves true when all of it was sent. Request trailers
 * stay behind: an HTTP/1.1 server may merge them into the header fields Gatehouse checked.
 */
async function pumpBody(
  io: BufferedConn,
  body: BodyReader,
  head: Uint8Array,
  progress: () => void,
): Promise<boolean> {
  const chunked = body.length < 0;
  try {
    const streamed = await streamBody(io.conn, body, {
      prefix: head,
      chunked,
      onWrite: progress,
    });
    if (chunked || streamed.body === body.length) return true;
    // A body that ended short of its Content-Length (Deno ends an HTTP/2 body whose client went
    // away as if complete): the upstream still waits for the rest, so the connection must never
    // carry another request.
    io.close();
    return false;
  } catch (err) {
    // The client's body failed: the upstream must not take a truncated body as complete.
    if (err instanceof BodyFailure) io.close();
    return false;
  } finally {
    releaseHead(head);
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
