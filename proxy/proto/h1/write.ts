/**
 * Writing HTTP/1.1 messages: heads from a HeaderList, bodies with the framing they need.
 *
 * Tested by server_test.ts, client_test.ts and http/head_test.ts.
 */
import type { HeaderList } from "../header_list.ts";
import { type BodyReader, isBodyless, type OutgoingResponse } from "../message.ts";
import { type BufferedConn, writeAll } from "../../net/buffered_conn.ts";
import type { WriteWatch } from "../../net/connections.ts";
import { headBuffers } from "../../net/buffer_pool.ts";
import { lastChunk } from "./body.ts";
import { BodyFailure, streamBody } from "./coalesce.ts";
import { reasonPhrase } from "../responses.ts";

/** Appends "name: value\r\n" for every field. */
export function serializeFields(headers: HeaderList, out: string): string {
  const { names, values } = headers;
  for (let i = 0; i < names.length; i++) out += names[i] + ": " + values[i] + "\r\n";
  return out;
}

/** Methods whose request carries "content-length: 0" when it has no body (as Go's client does). */
const EMPTY_BODY_LENGTH = new Set(["POST", "PUT", "PATCH"]);

/**
 * The head of a request Gatehouse sends upstream, as a byte string. Gatehouse owns Host and the
 * framing: `host` goes first (RFC 9112 3.2), and whatever Host, Content-Length and
 * Transfer-Encoding fields `headers` still holds are left out, so exactly one framing field goes
 * out: Content-Length when the body's length is known (`bodyLength` >= 0), chunked when it is not
 * (-1), none without a body (null), except "content-length: 0" for POST, PUT and PATCH, which
 * some servers refuse without one.
 */
export function serializeRequestHead(
  method: string,
  target: string,
  host: string,
  headers: HeaderList,
  bodyLength: number | null,
): string {
  let out = method + " " + target + " HTTP/1.1\r\nhost: " + host + "\r\n";
  const { names, keys, values } = headers;
  for (let i = 0; i < names.length; i++) {
    const key = keys[i];
    if (key === "host" || key === "content-length" || key === "transfer-encoding") continue;
    out += names[i] + ": " + values[i] + "\r\n";
  }
  if (bodyLength === null) {
    if (EMPTY_BODY_LENGTH.has(method)) out += "content-length: 0\r\n";
  } else if (bodyLength >= 0) {
    out += "content-length: " + bodyLength + "\r\n";
  } else {
    out += "transfer-encoding: chunked\r\n";
  }
  return out + "\r\n";
}

// deno-lint-ignore no-control-regex
const NOT_ASCII = /[^\x00-\x7f]/;
const encoder = new TextEncoder();

/**
 * Encodes a head string (a byte string: one char per byte) into a buffer with room for `extra`
 * body bytes: a pooled one when both fit (net/buffer_pool.ts `headBuffers`; give it back with
 * `releaseHead` once written, or leave it to the garbage collector), else a new one. ASCII, the
 * usual case, goes through the native encoder; anything else byte by byte (UTF-8 would turn
 * chars 128-255 into two bytes).
 */
export function encodeHead(head: string, extra: number): Uint8Array {
  const size = head.length + extra;
  const out = size <= headBuffers.size
    ? headBuffers.take().subarray(0, size)
    : new Uint8Array(size);
  if (!NOT_ASCII.test(head)) {
    encoder.encodeInto(head, out);
    return out;
  }
  for (let i = 0; i < head.length; i++) {
    const c = head.charCodeAt(i);
    out[i] = c < 256 ? c : 63;
  }
  return out;
}

/**
 * Gives the buffer of `bytes`, from `encodeHead`, back to its pool. Only once the write that
 * carried it completed, and only once: nothing may use it afterwards.
 */
export function releaseHead(bytes: Uint8Array): void {
  headBuffers.giveViewed(bytes);
}

/**
 * Writes `res` as the answer to a `method` request. `keepAlive` false adds "Connection: close";
 * an HTTP/1.0 peer gets "Connection: keep-alive" when the connection stays open. A body of
 * unknown length is sent chunked to HTTP/1.1 peers and close-delimited to HTTP/1.0 peers.
 * With `trailers` (the client sent `TE: trailers`) a response that has trailers goes chunked,
 * its trailers in the last chunk; otherwise trailers are dropped.
 * Resolves true when the whole message went out and the connection may serve another request
 * (false after a close-delimited body, or when the body was cut short); rejects when nothing
 * could be written. `watch` is told of each write, to bound how long it may wait on the client.
 */
export async function writeResponse(
  io: BufferedConn,
  res: OutgoingResponse,
  method: string,
  version: "1.0" | "1.1",
  keepAlive: boolean,
  trailers = false,
  watch?: WriteWatch,
): Promise<boolean> {
  const headers = res.headers;
  let body = res.body;
  const bodyless = isBodyless(method, res.status);
  let framing: "none" | "bytes" | "length" | "chunked" | "close" = "none";
  const withTrailers = trailers && !bodyless && version === "1.1" && res.trailers != null;
  if (withTrailers) body = body instanceof Uint8Array ? bytesReader(body) : body ?? EMPTY_BODY;
  if (bodyless) {
    if (res.status === 204 || res.status === 304 || res.status < 200) {
      headers.delete("transfer-encoding");
      if (res.status !== 304) headers.delete("content-length");
    } else if (body !== null && !headers.has("content-length")) {
      // HEAD: the GET's headers, Content-Length included, without the body.
      const length = body.length;
      if (length >= 0) headers.appendLower("content-length", String(length));
    }
  } else {
    headers.delete("transfer-encoding");
    headers.delete("content-length");
    if (body === null) {
      headers.appendLower("content-length", "0");
    } else if (body instanceof Uint8Array) {
      framing = "bytes";
      headers.appendLower("content-length", String(body.length));
    } else if (body.length >= 0 && !withTrailers) {
      framing = "length";
      headers.appendLower("content-length", String(body.length));
    } else if (version === "1.1") {
      framing = "chunked";
      headers.appendLower("transfer-encoding", "chunked");
    } else {
      framing = "close";
      keepAlive = false;
    }
  }
  headers.delete("connection");
  if (!keepAlive) headers.appendLower("connection", "close");
  else if (version === "1.0") headers.appendLower("connection", "keep-alive");

  const reason = res.reason ?? reasonPhrase(res.status);
  const head = serializeFields(headers, "HTTP/1.1 " + res.status + " " + reason + "\r\n") + "\r\n";
  if (framing === "bytes") {
    const bytes = body as Uint8Array;
    const out = encodeHead(head, bytes.length);
    out.set(bytes, head.length);
    try {
      await writeAll(io.conn, out, watch);
    } finally {
      releaseHead(out);
    }
    return true;
  }
  const headBytes = encodeHead(head, 0);
  if (framing === "none") {
    try {
      await writeAll(io.conn, headBytes, watch);
    } finally {
      releaseHead(headBytes);
    }
    if (body !== null && !(body instanceof Uint8Array)) body.cancel();
    return true;
  }
  const reader = body as BodyReader;
  const chunked = framing === "chunked";
  let writes = 0;
  try {
    const streamed = await streamBody(io.conn, reader, {
      prefix: headBytes,
      chunked,
      lastChunk: withTrailers ? () => lastChunk(res.trailers!) : undefined,
      onWrite: () => writes++,
      watch,
    });
    return framing !== "close" && (framing !== "length" || streamed.body === reader.length);
  } catch (err) {
    // The body failed, or a write failed after the head went out: the message is cut short.
    if (writes === 0 && !(err instanceof BodyFailure)) throw err;
    return false;
  } finally {
    releaseHead(headBytes);
  }
}

/** A body with nothing in it (a response without body that has trailers, sent chunked). */
const EMPTY_BODY: BodyReader = {
  length: 0,
  read: () => Promise.resolve(null),
  readNow: () => null,
  cancel() {},
};

/** `bytes` as a one-chunk body (a byte body sent chunked, for its trailers). */
function bytesReader(bytes: Uint8Array): BodyReader {
  let done = false;
  return {
    length: bytes.length,
    read: () => Promise.resolve(done ? null : (done = true, bytes)),
    readNow: () => done ? null : (done = true, bytes),
    cancel: () => void (done = true),
  };
}
