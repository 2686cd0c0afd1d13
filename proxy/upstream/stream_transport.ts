/**
 * A `tcp://` or `unix+tcp://` server: byte streams only (TCP routes); its health check is a
 * connect. Streams belong to their TCP sessions, so the transport holds no connection of its own.
 *
 * Tested by health_test.ts and the TCP listener tests.
 */
import type { ActiveHealthCheck, ServerRef, Service } from "../config/types.ts";
import type { ByteConn } from "../net/buffered_conn.ts";
import { dialServer } from "./dial.ts";
import {
  type ConnectionCounts,
  type ProbeResult,
  type Transport,
  type TransportDeps,
  withConnectTimeout,
} from "./transport.ts";

/** A `tcp://` or `unix+tcp://` server: byte streams only; its health check is a connect. */
export class StreamTransport implements Transport {
  readonly #ref: ServerRef;
  readonly #service: Service;
  readonly #deps: TransportDeps;

  constructor(ref: ServerRef, service: Service, deps: TransportDeps) {
    this.#ref = ref;
    this.#service = service;
    this.#deps = deps;
  }

  async dial(signal: AbortSignal): Promise<ByteConn> {
    const dialled = await withConnectTimeout(
      signal,
      this.#deps,
      (s) => dialServer(this.#ref, this.#service.tls, [], s),
    );
    return dialled.conn;
  }

  async probe(_check: ActiveHealthCheck, signal: AbortSignal): Promise<ProbeResult> {
    (await this.dial(signal)).close();
    return { ok: true, detail: "connected" };
  }

  connections(): ConnectionCounts {
    return { open: 0, idle: 0 };
  }

  close(): void {
    // Nothing pooled: each stream closes with its session.
  }
}
