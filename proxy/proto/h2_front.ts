/**
 * HTTP/2 front end: serves one client connection on Gatehouse's own engine (h2/server.ts) and
 * adapts each request stream to the pipeline's IncomingRequest, and its OutgoingResponse (body
 * and trailers) back to the stream. It runs after ALPN `h2` on TLS and after the h2c
 * prior-knowledge preface on plain entrypoints alike.
 *
 * Malformed requests never reach the pipeline: the engine resets them (RST_STREAM
 * PROTOCOL_ERROR, RFC 9113 8.1.1) and counts them.
 *
 * An extended CONNECT with `:protocol: websocket` (RFC 8441; SETTINGS_ENABLE_CONNECT_PROTOCOL is
 * advertised) reaches the pipeline as the HTTP/1.1 WebSocket upgrade it stands for, and the
 * stream can be taken over as the tunnel's client side (h2_tunnel.ts).
 *
 * Tested by http/framing_h2_test.ts, http/head_test.ts, http/forward_test.ts and the
 * listen/h2_*_test.ts files.
 */
import type { HeaderList } from "./header_list.ts";
import type { BufferedConn } from "../net/buffered_conn.ts";
import { CLIENT_PREFACE } from "./h2/frames.ts";
import {
  type ClientInfo,
  type Handler,
  type IncomingRequest,
  isBodyless,
  type OutgoingResponse,
  TAKEN_OVER,
} from "./message.ts";
import { proxyResponse } from "./responses.ts";
import { ErrorCode } from "./h2/errors.ts";
import {
  type H2Request,
  type H2ServerConnection,
  type H2ServerOptions,
  serveH2,
} from "./h2/server.ts";
import type { Transport } from "./h2/writer.ts";
import { takeStream, type TunnelTracker, websocketUpgradeHeaders } from "./h2_tunnel.ts";
import { IdTable } from "../net/id_table.ts";

export interface H2FrontOptions {
  readonly handler: Handler;
  readonly client: ClientInfo;
  /** Engine options: limits, stats, events, the stream-count hook, the sniffed preface. */
  readonly engine: Omit<H2ServerOptions, "onRequest">;
  /** Registers a WebSocket tunnel on a stream with the connection registry (see h2_tunnel.ts). */
  readonly trackTunnel: TunnelTracker;
}

/** One HTTP/2 client connection served into the pipeline. */
export class H2Front {
  readonly connection: H2ServerConnection;
  readonly #handler: Handler;
  readonly #client: ClientInfo;
  readonly #trackTunnel: TunnelTracker;
  /** The abort controllers of the requests in progress, by stream id. */
  readonly #live = new IdTable<AbortController>();

  constructor(transport: Transport, options: H2FrontOptions) {
    this.#handler = options.handler;
    this.#client = options.client;
    this.#trackTunnel = options.trackTunnel;
    this.connection = serveH2(transport, {
      ...options.engine,
      enableConnectProtocol: true,
      onRequest: (req) => void this.#serve(req),
    });
  }

  /** Requests in progress (their response not yet fully queued). */
  get inProgress(): number {
    return this.#live.size;
  }

  /**
   * Ends every request in progress with `reason` (their upstream exchanges close, and the
   * pipeline answers them: a 503 at the drain deadline). Returns false when none was.
   */
  cut(reason: unknown): boolean {
    if (this.#live.size === 0) return false;
    for (const ac of this.#live.values()) ac.abort(reason);
    return true;
  }

  async #serve(stream: H2Request): Promise<void> {
    const ac = new AbortController();
    const id = stream.id;
    this.#live.set(id, ac);
    // The controller itself, not `(err) => ac.abort(err)`: V8 allocates a function literal
    // assigned straight to a property in the old generation, where, garbage after the request,
    // it kept the request's whole context alive until the next full collection (~1.4 KB per
    // request promoted; gc_promotion_test.ts, docs/runtime.md "Closures assigned to properties").
    stream.onFailure = ac;
    try {
      const headers = stream.headers;
      joinCookies(headers);
      const websocket = stream.method === "CONNECT" &&
        stream.protocol?.toLowerCase() === "websocket";
      if (websocket) websocketUpgradeHeaders(headers);
      const body = websocket ? null : stream.body;
      const req: IncomingRequest = {
        method: websocket ? "GET" : stream.method,
        target: stream.path,
        authority: stream.authority,
        httpVersion: "2",
        headers,
        body,
        trailers: body === null ? null : () => stream.trailers,
        client: this.#client,
        signal: ac.signal,
        takeover: websocket
          ? (route) => takeStream(stream, ac.signal, this.#trackTunnel(route))
          : null,
      };
      let res: OutgoingResponse | typeof TAKEN_OVER;
      try {
        res = await this.#handler(req);
      } catch {
        res = proxyResponse(500);
      }
      if (res === TAKEN_OVER) return;
      if (stream.closed && stream.failure) {
        cancelBody(res);
        return;
      }
      await respond(stream, res);
      const inbound = stream.body;
      // Nobody read the request body (a redirect, a refusal): tell the client to stop sending.
      if (inbound !== null && !(inbound as { touched?: boolean }).touched) inbound.cancel();
    } finally {
      this.#live.delete(id);
      stream.onFailure = null;
    }
  }
}

/** Sends `res` on `stream`; a stream the client reset meanwhile is left alone. */
async function respond(stream: H2Request, res: OutgoingResponse): Promise<void> {
  const headers = res.headers;
  let status = res.status;
  let body = res.body;
  if (status < 200 || status > 599) {
    cancelBody(res);
    ({ status, body } = proxyResponse(502));
  }
  if (isBodyless(stream.method, status)) {
    // HEAD: the GET's headers, Content-Length included, and no DATA.
    if (
      stream.method === "HEAD" && body !== null && body.length >= 0 &&
      !headers.has("content-length")
    ) {
      headers.appendLower("content-length", String(body.length));
    }
  } else {
    // The engine sets Content-Length from the body it is given (an upstream's copy may be stale).
    headers.delete("content-length");
  }
  try {
    await stream.respond({ status, headers, body, trailers: res.trailers ?? null });
  } catch {
    // The client reset the stream or went away; a body that failed has reset it already.
    if (!stream.closed) stream.reset(ErrorCode.INTERNAL_ERROR);
  }
}

function cancelBody(res: OutgoingResponse): void {
  const body = res.body;
  if (body !== null && !(body instanceof Uint8Array)) body.cancel();
}

/**
 * Joins split cookie fields into one (RFC 9113 8.2.3): an HTTP/1.1 upstream reads one Cookie
 * field only.
 */
function joinCookies(headers: HeaderList): void {
  const keys = headers.keys;
  const first = keys.indexOf("cookie");
  if (first < 0 || keys.indexOf("cookie", first + 1) < 0) return;
  const values: string[] = [];
  for (let i = 0; i < keys.length; i++) if (keys[i] === "cookie") values.push(headers.values[i]);
  headers.set("cookie", values.join("; "));
}

/**
 * What a plain connection speaks, from its first bytes: "h2" when they are the HTTP/2 client
 * preface (h2c with prior knowledge), "http/1" as soon as they cannot be, "closed" when the
 * client left before sending a byte. The bytes stay in `io` for whichever engine serves it.
 */
export async function sniffPreface(io: BufferedConn): Promise<"h2" | "http/1" | "closed"> {
  while (true) {
    const seen = io.peek();
    const n = Math.min(seen.length, CLIENT_PREFACE.length);
    for (let i = 0; i < n; i++) if (seen[i] !== CLIENT_PREFACE[i]) return "http/1";
    if (n === CLIENT_PREFACE.length) return "h2";
    if (!(await io.fill(4096))) return seen.length === 0 ? "closed" : "http/1";
  }
}
