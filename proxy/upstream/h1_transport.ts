/**
 * HTTP/1.1 to one server over TCP or TLS (ALPN http/1.1): a keep-alive pool, exchanges through
 * the HTTP/1.1 client (proto/h1/client.ts), and health probes on a connection of their own.
 *
 * A request that fails on a reused keep-alive connection before any response byte is sent again
 * on a new connection when that is safe: this is the upstream closing an idle connection just as
 * the request went out, not a failure of the server.
 */
import type { ActiveHealthCheck, ServerRef, Service } from "../config/types.ts";
import { BufferedConn, type ByteConn } from "../net/buffered_conn.ts";
import {
  connectError,
  IDEMPOTENT,
  UpstreamError,
  type UpstreamRequest,
  type UpstreamResponse,
} from "../proto/exchange.ts";
import { type ConnLease, exchange } from "../proto/h1/client.ts";
import { HeaderList } from "../proto/header_list.ts";
import { ConnPool } from "./conn_pool.ts";
import { dialServer } from "./dial.ts";
import { serverAuthority } from "./server_state.ts";
import {
  type ConnectionCounts,
  type HttpExchangeOptions,
  type HttpTransport,
  type ProbeResult,
  type TransportDeps,
  withConnectTimeout,
} from "./transport.ts";

const ALPN = ["http/1.1"];

export class H1Transport implements HttpTransport {
  readonly #ref: ServerRef;
  readonly #service: Service;
  readonly #deps: TransportDeps;
  readonly #pool: ConnPool;

  constructor(ref: ServerRef, service: Service, deps: TransportDeps) {
    this.#ref = ref;
    this.#service = service;
    this.#deps = deps;
    this.#pool = new ConnPool({
      dial: (signal) => this.dial(signal),
      registry: deps.registry,
      label: service.name,
      maxIdle: service.keepAlive.maxIdlePerServer,
      idleTimeoutMs: service.keepAlive.idleTimeout,
    });
  }

  async dial(signal: AbortSignal): Promise<ByteConn> {
    const dialled = await withConnectTimeout(
      signal,
      this.#deps,
      (s) => dialServer(this.#ref, this.#service.tls, ALPN, s),
    );
    return dialled.conn;
  }

  async exchange(req: UpstreamRequest, opts: HttpExchangeOptions): Promise<UpstreamResponse> {
    const lease = this.#pool.takeIdle() ?? await this.#connect(opts.signal);
    try {
      return await exchange(lease, req, opts);
    } catch (err) {
      const e = asUpstreamError(err);
      if (!lease.reused || !isRepeatable(e, req, opts)) throw e;
    }
    const fresh = await this.#connect(opts.signal);
    try {
      return await exchange(fresh, req, opts);
    } catch (err) {
      throw asUpstreamError(err);
    }
  }

  async probe(check: ActiveHealthCheck, signal: AbortSignal): Promise<ProbeResult> {
    const conn = await this.dial(signal);
    try {
      if (check.path === null) return { ok: true, detail: "connected" };
      const io = new BufferedConn(conn, 4096);
      const onAbort = () => io.close();
      signal.addEventListener("abort", onAbort, { once: true });
      const lease: ConnLease = { io, reused: false, setDeadline() {}, release: () => io.close() };
      const headers = new HeaderList();
      headers.appendLower("user-agent", "Gatehouse-HealthCheck");
      headers.appendLower("connection", "close");
      const host = serverAuthority(this.#ref);
      const request = { method: "GET", target: check.path, host, headers, body: null };
      const res = await exchange(lease, request, {
        responseHeaderMs: 0,
        bodyIdleMs: 0,
        maxHeaderBytes: 64 * 1024,
        signal,
      });
      res.body?.cancel();
      const [lo, hi] = check.expectStatus;
      return { ok: res.status >= lo && res.status <= hi, detail: `status ${res.status}` };
    } finally {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  }

  /** Takes a connection to this server dialled elsewhere (ALPN chose http/1.1) into the pool. */
  adopt(conn: ByteConn): void {
    this.#pool.adopt(conn);
  }

  connections(): ConnectionCounts {
    return { open: this.#pool.open, idle: this.#pool.idle };
  }

  close(): void {
    this.#pool.close();
  }

  /** A new pooled connection; a failed dial is a "connect" failure. */
  async #connect(signal: AbortSignal): Promise<ConnLease> {
    try {
      return await this.#pool.connect(signal);
    } catch (err) {
      throw connectError(err);
    }
  }
}

function asUpstreamError(err: unknown): UpstreamError {
  return err instanceof UpstreamError ? err : new UpstreamError("reset", true, String(err));
}

/**
 * Safe to send again on a new connection: the reused connection failed before any response
 * byte, no request body byte was consumed, and the request either never went out or is
 * idempotent (or carries an Idempotency-Key).
 */
function isRepeatable(e: UpstreamError, req: UpstreamRequest, opts: HttpExchangeOptions): boolean {
  if (e.kind !== "reset" || !e.beforeResponse || !opts.replayable()) return false;
  return !e.requestSent || IDEMPOTENT.has(req.method) || req.headers.has("idempotency-key");
}
