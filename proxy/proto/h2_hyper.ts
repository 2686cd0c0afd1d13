/**
 * HTTP/2 front end: adapts hyper's Request/Response (served by `serveHttpOnConnection` for
 * connections that negotiated h2) to the pipeline's IncomingRequest/OutgoingResponse.
 * Extended CONNECT (WebSocket over h2, RFC 8441) is not offered: upgrades stay on HTTP/1.1.
 *
 * hyper refuses malformed header blocks itself (RST_STREAM PROTOCOL_ERROR: uppercase names,
 * connection-specific fields, a Content-Length the DATA frames disagree with...); what it lets
 * through goes to the pipeline's request checks, whose refusals are 400 answers, not stream
 * resets: Deno offers a handler no way to reset a stream with a chosen code.
 *
 * Tested by http/framing_h2_test.ts, http/head_test.ts and http/forward_test.ts.
 */
import { HeaderList } from "./header_list.ts";
import {
  type BodyReader,
  type ClientInfo,
  type Handler,
  type IncomingRequest,
  TAKEN_OVER,
} from "./message.ts";
import { proxyResponse } from "./responses.ts";
import { joinBytes } from "../bytes.ts";
import { parseContentLength } from "./h1/parse.ts";
import { NOT_YET, settledNow } from "./h1/coalesce.ts";

/** The pipeline as a fetch-style handler for one h2 connection. */
export interface H2Handler {
  readonly serve: (request: Request) => Promise<Response>;
  /** Ends every request of the connection (their upstream exchanges close) with `reason`. */
  cut(reason: unknown): void;
}

/** Wraps the pipeline for one h2 connection. */
export function h2Handler(
  handler: Handler,
  client: ClientInfo,
  onRequest: (delta: 1 | -1) => void,
): H2Handler {
  const live = new Set<AbortController>();
  const cut = (reason: unknown) => {
    for (const ac of live) ac.abort(reason);
  };
  const serve = async (request: Request): Promise<Response> => {
    onRequest(1);
    let streaming = false;
    // The request's own signal, relayed: AbortSignal.any costs about 6% of h2 CPU per request.
    const ac = new AbortController();
    const rs = request.signal;
    const relay = () => ac.abort(rs.reason);
    rs.addEventListener("abort", relay, { once: true });
    live.add(ac);
    const done = () => {
      live.delete(ac);
      rs.removeEventListener("abort", relay);
      onRequest(-1);
    };
    try {
      // Deno builds the URL as scheme "://" authority path, where the path is :path with a "/"
      // put in front unless it starts with "/" or "*" ("" for CONNECT).
      const url = request.url;
      const schemeEnd = url.indexOf("://") + 3;
      let pathStart = schemeEnd;
      while (pathStart < url.length && url[pathStart] !== "/" && url[pathStart] !== "*") {
        pathStart++;
      }
      const headers = new HeaderList();
      for (const [name, value] of request.headers) headers.appendLower(name, value);
      const method = request.method;
      const req: IncomingRequest = {
        method,
        target: url.slice(pathStart),
        authority: url.slice(schemeEnd, pathStart),
        httpVersion: "2",
        headers,
        body: request.body === null ? null : await bodyFromStream(request.body, headers),
        trailers: null,
        client,
        signal: ac.signal,
        takeover: null,
      };
      let res = await handler(req);
      if (res === TAKEN_OVER) res = proxyResponse(500);
      const out = new Headers();
      const { names, values } = res.headers;
      for (let i = 0; i < names.length; i++) out.append(names[i], values[i]);
      const body = res.body;
      if (method === "HEAD") {
        // The GET's headers, Content-Length included, and no DATA (hyper would send a body).
        const length = body === null ? -1 : body.length;
        if (length >= 0 && !out.has("content-length")) out.set("content-length", String(length));
        if (body !== null && !(body instanceof Uint8Array)) body.cancel();
        return new Response(null, { status: res.status, headers: out });
      }
      if (body === null || body instanceof Uint8Array) {
        return new Response(body as Uint8Array<ArrayBuffer> | null, {
          status: res.status,
          headers: out,
        });
      }
      if (body.length >= 0) out.set("content-length", String(body.length));
      // A body already complete in memory goes out as bytes: a stream costs a resource per
      // response and a round trip per chunk.
      const ready = readyChunks(body);
      if (ready.done) {
        return new Response(joinBytes(ready.chunks) as Uint8Array<ArrayBuffer>, {
          status: res.status,
          headers: out,
        });
      }
      streaming = true;
      return new Response(readableOf(body, ready.chunks, done), {
        status: res.status,
        headers: out,
      });
    } finally {
      if (!streaming) done();
    }
  };
  return { serve, cut };
}

/**
 * The request body, or null when the client sent none: a HEADERS frame with END_STREAM and no
 * content-length. Deno hands such a request a body anyway (for methods other than GET and
 * HEAD), held in memory, whose reads settle before any timer; a body still arriving is not
 * waited for beyond that.
 */
async function bodyFromStream(
  stream: ReadableStream<Uint8Array>,
  headers: HeaderList,
): Promise<BodyReader | null> {
  const reader = stream.getReader();
  let length = -1;
  try {
    // Invalid values leave it unknown: the request checks refuse the request before any read.
    length = parseContentLength(headers.getJoined("content-length"), 400) ?? -1;
  } catch {
    // see above
  }
  let first: Promise<ReadableStreamReadResult<Uint8Array>> | null = reader.read();
  // Nobody may read the body (a 404): should this read fail, that must not go unhandled.
  first.catch(() => {});
  if (length < 0) {
    let now = await settledNow(first);
    while (now !== NOT_YET && !now.done && now.value.length === 0) {
      first = reader.read();
      first.catch(() => {});
      now = await settledNow(first);
    }
    if (now !== NOT_YET && now.done) return null;
  }
  return {
    length,
    async read() {
      while (true) {
        const next = first ?? reader.read();
        first = null;
        const { value, done } = await next;
        if (done) return null;
        if (value.length > 0) return value;
      }
    },
    cancel(reason) {
      reader.cancel(reason).catch(() => {});
    },
  };
}

/** Largest body sent as one buffer instead of a stream. */
const MAX_READY = 256 * 1024;

/** The chunks `body` has ready now, and whether they are all of it. */
function readyChunks(body: BodyReader): { chunks: Uint8Array[]; done: boolean } {
  const chunks: Uint8Array[] = [];
  if (body.readNow === undefined) return { chunks, done: false };
  let size = 0;
  while (size <= MAX_READY) {
    const chunk = body.readNow();
    if (chunk === undefined) return { chunks, done: false };
    if (chunk === null) return { chunks, done: true };
    chunks.push(chunk);
    size += chunk.length;
  }
  return { chunks, done: false };
}

/**
 * A stream over `first`, then the rest of `body`; `onEnd` runs once when it ends, fails or is
 * cancelled.
 */
function readableOf(
  body: BodyReader,
  first: Uint8Array[],
  onEnd: () => void,
): ReadableStream<Uint8Array> {
  let ended = false;
  const end = () => {
    if (!ended) {
      ended = true;
      onEnd();
    }
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (first.length > 0) {
        controller.enqueue(first.shift()!);
        return;
      }
      try {
        const chunk = await body.read();
        if (chunk === null) {
          end();
          controller.close();
        } else {
          controller.enqueue(chunk);
        }
      } catch (err) {
        end();
        controller.error(err);
      }
    },
    cancel(reason) {
      end();
      body.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
