/**
 * HTTP/2 to one server through Gatehouse's engine (proto/h2/client.ts): `h2c://` servers and
 * `http://` ones with `protocol: h2` (prior knowledge), `https://` ones with `protocol: h2` (ALPN
 * h2; a server that does not agree fails to connect) or `protocol: auto` (ALPN offers h2 and
 * http/1.1: a server that chooses http/1.1 is served by an HTTP/1.1 transport from then on).
 *
 * Connections are pooled (h2_pool.ts). A request the server did not process (REFUSED_STREAM,
 * above the last stream id of its GOAWAY, or never sent because the connection was going away)
 * is sent again on another connection while its body is replayable, up to MAX_REPLAYS times;
 * after that it fails as not sent, which lets the attempt loop try another server.
 *
 * Deadlines are per stream: the response head within `responseHeaderMs`, then no more than
 * `bodyIdleMs` between body chunks; either cancels the stream (RST_STREAM CANCEL), as does the
 * client going away, so the upstream sees every cancellation.
 *
 * Tested by h2_transport_test.ts and http/h2_upstream_test.ts.
 */
import type { ActiveHealthCheck, ServerRef, Service } from "../config/types.ts";
import type { ByteConn } from "../net/buffered_conn.ts";
import {
  connectError,
  UpstreamError,
  type UpstreamRequest,
  type UpstreamResponse,
} from "../proto/exchange.ts";
import {
  connectH2,
  type H2ClientConnection,
  type H2ClientRequest,
  type H2ClientResponse,
} from "../proto/h2/client.ts";
import { H2ConnectionClosedError, H2StreamResetError, StreamError } from "../proto/h2/errors.ts";
import { HeaderList } from "../proto/header_list.ts";
import { tapBody } from "../proto/body_tap.ts";
import type { BodyReader } from "../proto/message.ts";
import { reasonPhrase } from "../proto/responses.ts";
import { monotonicNow } from "../clock.ts";
import { DeadlineSweep, type Expiring } from "./deadline_sweep.ts";
import { dialServer } from "./dial.ts";
import type { H1Transport } from "./h1_transport.ts";
import { grpcHealthCheck } from "./grpc_health.ts";
import { H2Pool } from "./h2_pool.ts";
import { serverAuthority } from "./server_state.ts";
import {
  type ConnectionCounts,
  type HttpExchangeOptions,
  type HttpTransport,
  type ProbeResult,
  type TransportDeps,
  withConnectTimeout,
} from "./transport.ts";

/** Times a request the server did not process is sent again on another connection. */
const MAX_REPLAYS = 2;

/** The abort reason of a stream whose deadline passed. */
const TIMED_OUT = Symbol("timed-out");

/** The server chose another protocol than h2 by ALPN (protocol auto): the connection, for HTTP/1.1. */
class AlpnDeclined extends Error {
  constructor(readonly conn: ByteConn, readonly alpn: string | null) {
    super(`the server chose ${alpn ?? "no protocol"} by ALPN`);
  }
}

export class H2Transport implements HttpTransport {
  readonly #ref: ServerRef;
  readonly #service: Service;
  readonly #deps: TransportDeps;
  readonly #pool: H2Pool;
  /** Protocol auto: the HTTP/1.1 transport for a server that declined h2, and for upgrades. */
  readonly #fallback: H1Transport | null;
  /** Protocol auto: what the server chose by ALPN at the last dial. */
  #declined = false;
  readonly #scheme: string;
  /** The deadlines of this server's streams. */
  readonly #sweep = new DeadlineSweep();

  constructor(ref: ServerRef, service: Service, deps: TransportDeps, fallback: H1Transport | null) {
    this.#ref = ref;
    this.#service = service;
    this.#deps = deps;
    this.#fallback = fallback;
    this.#scheme = ref.scheme === "https" ? "https" : "http";
    this.#pool = new H2Pool({
      dial: (signal) => this.#dialH2(signal),
      registry: deps.registry,
      label: service.name,
      maxIdle: service.keepAlive.maxIdlePerServer,
      idleTimeoutMs: service.keepAlive.idleTimeout,
      connectTimeoutMs: deps.connectTimeoutMs,
    });
  }

  async dial(signal: AbortSignal): Promise<ByteConn> {
    return await withConnectTimeout(signal, this.#deps, (s) => this.#dialH2(s));
  }

  async exchange(req: UpstreamRequest, opts: HttpExchangeOptions): Promise<UpstreamResponse> {
    const upgrade = req.headers.get("upgrade");
    if (this.#fallback !== null && (this.#declined || upgrade !== null)) {
      return await this.#fallback.exchange(req, opts);
    }
    if (upgrade !== null) {
      throw new UpstreamError(
        "protocol",
        false,
        `Cannot forward an Upgrade (${upgrade}) to ${this.#ref.url}: it speaks HTTP/2 ` +
          `(protocol h2), which has no Upgrade; use protocol auto or http/1.1 for this service`,
      );
    }
    for (let replays = 0;; replays++) {
      const stream = new StreamControl(opts, this.#sweep);
      let sent: { h2: H2ClientConnection; response: Promise<H2ClientResponse> };
      try {
        sent = await this.#pool.lease(
          opts.signal,
          (h2) => ({ h2, response: h2.request(stream.request(this.#scheme, req)) }),
        );
      } catch (err) {
        stream.finish();
        if (err instanceof AlpnDeclined && this.#fallback !== null) {
          this.#declined = true;
          this.#fallback.adopt(err.conn);
          return await this.#fallback.exchange(req, opts);
        }
        if (opts.signal.aborted) throw new UpstreamError("aborted", false, "client went away");
        throw connectError(err);
      }
      try {
        return await stream.response(sent.response, opts);
      } catch (err) {
        // No answer in time, a malformed one or a reset: the connection itself may be broken.
        if (err instanceof UpstreamError && err.kind !== "aborted") this.#pool.suspect(sent.h2);
        if (!(err instanceof Unprocessed) || replays >= MAX_REPLAYS || !opts.replayable()) {
          throw err instanceof Unprocessed ? err.error : err;
        }
      }
    }
  }

  async probe(check: ActiveHealthCheck, signal: AbortSignal): Promise<ProbeResult> {
    if (this.#fallback !== null && this.#declined) return await this.#fallback.probe(check, signal);
    let conn: ByteConn;
    try {
      conn = await withConnectTimeout(signal, this.#deps, (s) => this.#dialH2(s));
    } catch (err) {
      if (!(err instanceof AlpnDeclined) || this.#fallback === null) throw err;
      err.conn.close();
      this.#declined = true;
      return await this.#fallback.probe(check, signal);
    }
    const h2 = connectH2(conn);
    try {
      return check.grpcService === null
        ? await this.#probeGet(h2, check, signal)
        : await grpcHealthCheck(h2, this.#scheme, serverAuthority(this.#ref), check, signal);
    } finally {
      h2.close();
    }
  }

  async #probeGet(
    h2: H2ClientConnection,
    check: ActiveHealthCheck,
    signal: AbortSignal,
  ): Promise<ProbeResult> {
    const headers = HeaderList.from([["user-agent", "Gatehouse-HealthCheck"]]);
    const res = await h2.request({
      method: "GET",
      scheme: this.#scheme,
      authority: serverAuthority(this.#ref),
      path: check.path ?? "/",
      headers,
      signal,
    });
    res.body?.cancel();
    const [lo, hi] = check.expectStatus;
    return { ok: res.status >= lo && res.status <= hi, detail: `status ${res.status} (h2)` };
  }

  connections(): ConnectionCounts {
    const h1 = this.#fallback?.connections() ?? { open: 0, idle: 0 };
    return { open: this.#pool.open + h1.open, idle: this.#pool.idle + h1.idle };
  }

  close(): void {
    // Not the deadline sweep: streams in flight keep their deadlines (it stops once they end).
    this.#pool.close();
    this.#fallback?.close();
  }

  /** A connection the server agreed to speak HTTP/2 on; AlpnDeclined (auto) otherwise. */
  async #dialH2(signal: AbortSignal): Promise<ByteConn> {
    const alpn = this.#fallback === null ? ["h2"] : ["h2", "http/1.1"];
    let dialled;
    try {
      dialled = await dialServer(this.#ref, this.#service.tls, alpn, signal);
    } catch (err) {
      // rustls: the server supports none of the protocols offered.
      if (!/NoApplicationProtocol/.test(String(err))) throw err;
      throw new Error(
        "the server did not agree to HTTP/2 by ALPN (it offers no h2); set protocol: auto on " +
          "the service to fall back to HTTP/1.1",
      );
    }
    if (this.#ref.scheme !== "https" || dialled.alpn === "h2") return dialled.conn;
    if (this.#fallback !== null) throw new AlpnDeclined(dialled.conn, dialled.alpn);
    dialled.conn.close();
    throw new Error(
      `the server did not agree to HTTP/2 by ALPN (it chose ${dialled.alpn ?? "nothing"}); ` +
        `set protocol: auto on the service to fall back to HTTP/1.1`,
    );
  }
}

/**
 * One request's stream: its deadlines (the response head within `responseHeaderMs` of being
 * sent, then `bodyIdleMs` between body chunks) and the client's going away, all as aborts of the
 * stream (RST_STREAM CANCEL).
 */
class StreamControl implements Expiring {
  readonly #ac = new AbortController();
  readonly #client: AbortSignal;
  readonly #sweep: DeadlineSweep;
  /** The current deadline (see Expiring), watched by the transport's sweep. */
  deadline = 0;
  readonly #onClientGone = () => this.#ac.abort(this.#client.reason);

  constructor(opts: HttpExchangeOptions, sweep: DeadlineSweep) {
    this.#sweep = sweep;
    this.#client = opts.signal;
    if (opts.signal.aborted) this.#onClientGone();
    opts.signal.addEventListener("abort", this.#onClientGone, { once: true });
  }

  /** The engine's request for `req`, started now: the response-head deadline runs from here. */
  request(scheme: string, req: UpstreamRequest): H2ClientRequest {
    return {
      method: req.method,
      scheme,
      authority: req.host,
      path: req.target,
      headers: requestHeaders(req),
      body: req.body,
      trailers: req.trailers ?? null,
      signal: this.#ac.signal,
    };
  }

  /** The response head, with its body under the body-idle deadline. */
  async response(
    pending: Promise<H2ClientResponse>,
    opts: HttpExchangeOptions,
  ): Promise<UpstreamResponse> {
    this.#deadline(opts.responseHeaderMs);
    let res: H2ClientResponse;
    try {
      res = await pending;
    } catch (err) {
      this.finish();
      throw classify(err, this.#ac.signal, this.#client);
    }
    this.#deadline(opts.bodyIdleMs);
    let body: BodyReader | null = res.body;
    if (body === null) this.finish();
    else {
      const finish = () => this.finish();
      body = tapBody(body, {
        chunk: () => this.#deadline(opts.bodyIdleMs),
        end: finish,
        error: finish,
        cancel: finish,
      });
    }
    return {
      status: res.status,
      reason: reasonPhrase(res.status),
      version: "2",
      headers: res.headers,
      body,
      // A response that ended with its head (trailers-only, in gRPC) has no trailers to wait for.
      trailers: body === null ? null : () => res.trailers,
      upgrade: null,
    };
  }

  /** Stops the deadline and stops watching the client. */
  finish(): void {
    this.deadline = 0;
    this.#sweep.delete(this);
    this.#client.removeEventListener("abort", this.#onClientGone);
  }

  expire(): void {
    this.#ac.abort(TIMED_OUT);
  }

  /** The deadline `ms` from now (0: none); watched from the first one on, until `finish`. */
  #deadline(ms: number): void {
    if (ms <= 0) {
      this.deadline = 0;
      return;
    }
    const first = this.deadline === 0;
    this.deadline = monotonicNow() + ms;
    if (first) this.#sweep.add(this);
  }
}

/** A request the server did not process: safe to send again, `error` if it is not. */
class Unprocessed extends Error {
  constructor(readonly error: UpstreamError) {
    super(error.message);
  }
}

/**
 * The request's fields as HTTP/2 sends them: Gatehouse's own Content-Length for a body of known
 * length (the client's copy is not trusted), and `te: trailers` for gRPC, whose servers require
 * it. (Connection-specific fields and Host are left out by the engine.)
 */
function requestHeaders(req: UpstreamRequest): HeaderList {
  const headers = req.headers;
  headers.delete("content-length");
  const length = req.body === null ? -1 : req.body.length;
  if (length >= 0) headers.appendLower("content-length", String(length));
  const type = headers.get("content-type");
  if (type !== null && type.startsWith("application/grpc") && !headers.has("te")) {
    headers.appendLower("te", "trailers");
  }
  return headers;
}

/** What a failed request means for the caller (an Unprocessed one may be sent again). */
function classify(err: unknown, stream: AbortSignal, client: AbortSignal): Error {
  if (stream.aborted && stream.reason === TIMED_OUT) {
    return new UpstreamError("timeout", true, "upstream did not answer in time");
  }
  if (client.aborted) return new UpstreamError("aborted", true, "client went away");
  if (
    (err instanceof H2StreamResetError || err instanceof H2ConnectionClosedError) && err.retryable
  ) {
    return new Unprocessed(new UpstreamError("reset", false, err.message, true));
  }
  if (err instanceof StreamError) {
    return new UpstreamError("protocol", true, `malformed HTTP/2 response: ${err.message}`);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new UpstreamError("reset", true, message, err instanceof H2ConnectionClosedError);
}
