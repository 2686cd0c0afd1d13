/**
 * A TCP stream to a service: the service's servers are tried by the one attempt loop
 * (upstream/attempts.ts), trying another server when a connect fails or times out, as many times
 * as the service's `retries`; then bytes are copied both ways. The stream counts as in flight on
 * its server for its whole life (the lease the caller releases).
 *
 * Tested by listen/tcp_listener_test.ts and listen/tcp_bulk_test.ts.
 */
import { type ByteConn, writeAll } from "../net/buffered_conn.ts";
import { connectError } from "../proto/exchange.ts";
import { attemptServers } from "../upstream/attempts.ts";
import type { InflightLease } from "../upstream/inflight.ts";
import type { UpstreamServer } from "../upstream/server_state.ts";
import type { ServiceRuntime } from "../upstream/service.ts";
import { pipeBoth, type PipeResult } from "../net/pipe.ts";

export type UpstreamConnect =
  | {
    readonly ok: true;
    readonly conn: ByteConn;
    readonly server: UpstreamServer;
    /** The stream's in-flight count on `server`: release it when the stream ends. */
    readonly lease: InflightLease;
    readonly attempts: number;
  }
  | {
    readonly ok: false;
    /** "unavailable": no server could be picked; "connect": every attempt failed. */
    readonly failure: "unavailable" | "connect";
    readonly message: string;
    readonly server: UpstreamServer | null;
    readonly attempts: number;
  };

export interface ConnectOptions {
  /** For ip_hash balancing. */
  readonly clientIp: string;
  /** Limit of each attempt. */
  readonly connectMs: number;
  /** Aborts the attempt in progress (the client left, shutdown). */
  readonly signal: AbortSignal;
}

/** Connects to a server of `service`. */
export async function connectService(
  service: ServiceRuntime,
  opts: ConnectOptions,
): Promise<UpstreamConnect> {
  const result = await attemptServers(service, opts, {
    run(server) {
      const signal = AbortSignal.any([opts.signal, AbortSignal.timeout(opts.connectMs)]);
      return service.transport(server).dial(signal);
    },
    judge(err) {
      const error = connectError(err, opts.connectMs);
      const fault = !opts.signal.aborted && !error.local;
      return { error, serverFault: fault, retry: fault };
    },
  });
  if (result.ok) {
    const { value: conn, server, lease, attempts } = result;
    return { ok: true, conn, server, lease, attempts };
  }
  const { server, attempts } = result;
  if (result.error === null || opts.signal.aborted) {
    const message = opts.signal.aborted
      ? "client went away before the upstream connection was made"
      : `no available server in service "${service.name}"`;
    return { ok: false, failure: "unavailable", message, server: null, attempts };
  }
  return { ok: false, failure: "connect", message: result.error.message, server, attempts };
}

export interface StreamOptions {
  /** Written to the upstream first and not counted: a PROXY protocol header. */
  readonly header: Uint8Array;
  /** The client's bytes read before the stream started (a peeked ClientHello). */
  readonly first: Uint8Array;
  /** Close both sides after this long without a byte either way; 0 = never. */
  readonly idleMs: number;
  readonly setDeadline: (epochMs: number) => void;
}

/**
 * Copies `client` <-> `upstream` after sending the header and the first bytes; closes both
 * before resolving. `up` counts the first bytes, not the header.
 */
export async function stream(
  client: ByteConn,
  upstream: ByteConn,
  opts: StreamOptions,
): Promise<PipeResult> {
  const { header, first } = opts;
  if (header.length + first.length > 0) {
    const bytes = header.length === 0 ? first : new Uint8Array(header.length + first.length);
    if (bytes !== first) {
      bytes.set(header);
      bytes.set(first, header.length);
    }
    try {
      await writeAll(upstream, bytes);
    } catch {
      for (const c of [client, upstream]) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
      return { up: 0, down: 0, clean: false };
    }
  }
  const result = await pipeBoth(client, upstream, {
    idleMs: opts.idleMs,
    setDeadline: opts.setDeadline,
  });
  return { ...result, up: result.up + first.length };
}
