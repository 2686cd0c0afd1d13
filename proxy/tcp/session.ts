/**
 * One client connection on a TCP entrypoint, from accept to its log line: its tracked state in
 * the connection registry (deadlines, drain, route), who the client is, what was learnt on the
 * way (SNI, TLS), the upstream stream, and how it ended.
 *
 * Tested by listen/tcp_listener_test.ts (access records, limits, outcomes).
 */
import type { TcpRoute } from "../config/types.ts";
import type { ByteConn } from "../net/buffered_conn.ts";
import { type ConnectionRegistry, TrackedConnection } from "../net/connections.ts";
import { connEnds } from "../net/unix_socket.ts";
import type { TcpOutcome, TcpRecord } from "../telemetry/records.ts";
import type { ServiceRuntime } from "../upstream/service.ts";
import { connectService, stream } from "./forward.ts";
import { encodeV1, encodeV2, type Endpoint } from "./proxy_protocol.ts";
import { monotonicNow } from "../clock.ts";

export interface SessionDeps {
  readonly registry: ConnectionRegistry;
  /** Called once when the connection is over. */
  readonly onClosed: (record: TcpRecord) => void;
}

/** Runs when the session ends; `clean` is true when both directions ended normally. */
type Closer = (clean: boolean) => void;

const EMPTY = new Uint8Array(0);

export class TcpSession {
  readonly track: TrackedConnection;
  readonly entrypoint: string;
  /** The client: the peer, or the address a trusted PROXY header gave. */
  client: Endpoint;
  /** Where the client connected to (PROXY headers sent upstream carry it). */
  destination: Endpoint;
  sni: string | null = null;
  tls: TcpRecord["tls"] = "none";
  readonly #deps: SessionDeps;
  readonly #started = performance.now();
  readonly #closers = new Set<Closer>();
  readonly #abort = new AbortController();
  #route: TcpRoute | null = null;
  #upstream: string | null = null;
  #attempts = 0;
  #refusal: { outcome: TcpOutcome; reason: string } | null = null;
  #ended = false;

  /** Registers the connection (state "handshake") in the registry. */
  constructor(entrypoint: string, conn: Deno.Conn, deps: SessionDeps) {
    this.entrypoint = entrypoint;
    this.#deps = deps;
    const { peer, local } = connEnds(conn);
    this.client = peer;
    this.destination = local;
    this.track = new TrackedConnection(entrypoint, "tcp", () => this.#close(false));
    this.#closers.add(() => this.#abort.abort());
    this.#closers.add((clean) => clean || closeQuietly(conn));
    deps.registry.add(this.track);
  }

  /** Runs `closer` when the session ends (or is closed by a deadline, drain or failure). */
  onEnd(closer: Closer): () => void {
    this.#closers.add(closer);
    return () => this.#closers.delete(closer);
  }

  /** Notes a rule the client broke mid-stream: the log shows it instead of a plain reset. */
  refuse(outcome: TcpOutcome, reason: string): void {
    this.#refusal ??= { outcome, reason };
  }

  /** Ends the connection before any stream: closes it and logs `outcome`. */
  fail(outcome: TcpOutcome, reason: string): void {
    this.#end(outcome, reason, 0, 0, false);
  }

  /** The connection left the TCP path (relayed to HTTPS): untracked here, not logged. */
  handOver(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#deps.registry.delete(this.track);
  }

  /**
   * Connects to `service` for `route` and copies bytes until both directions end. `first` goes
   * to the upstream before anything else from `client` (after a PROXY header, if the route
   * sends one).
   */
  async forward(
    route: TcpRoute,
    service: ServiceRuntime,
    client: ByteConn,
    first: Uint8Array = EMPTY,
  ): Promise<void> {
    this.#route = route;
    this.track.deadline = 0;
    const up = await connectService(service, {
      clientIp: this.client.address,
      connectMs: route.timeouts.connect,
      signal: this.#abort.signal,
    });
    this.#attempts = up.attempts;
    this.#upstream = up.server?.url ?? null;
    if (!up.ok) {
      const outcome = this.track.closed
        ? "drained"
        : up.failure === "connect"
        ? "connect_failed"
        : "unavailable";
      this.#end(outcome, up.message, 0, 0);
      return;
    }
    if (this.#ended) {
      up.lease.release();
      closeQuietly(up.conn);
      return;
    }
    this.#closers.add((clean) => clean || closeQuietly(up.conn));
    this.track.state = "tunnel";
    this.track.route = route.name;
    let idleDeadline = 0;
    const result = await stream(client, up.conn, {
      header: this.#proxyHeader(route),
      first,
      idleMs: route.timeouts.idle,
      setDeadline: (epochMs) => {
        if (epochMs !== 0) idleDeadline = epochMs;
        this.track.deadline = epochMs;
      },
    });
    up.lease.release();
    const now = monotonicNow();
    let outcome: TcpOutcome = "closed";
    if (!result.clean) {
      const hard = this.track.hardDeadline;
      outcome = hard !== 0 && hard <= now
        ? "drained"
        : idleDeadline !== 0 && idleDeadline <= now
        ? "idle_timeout"
        : "reset";
    }
    this.#end(outcome, null, result.up, result.down, result.clean);
  }

  #proxyHeader(route: TcpRoute): Uint8Array {
    if (route.proxyProtocol === "v1") return encodeV1(this.client, this.destination);
    if (route.proxyProtocol === "v2") return encodeV2(this.client, this.destination, this.sni);
    return EMPTY;
  }

  #close(clean: boolean): void {
    for (const closer of this.#closers) {
      try {
        closer(clean);
      } catch {
        // already closed
      }
    }
    this.#closers.clear();
  }

  #end(outcome: TcpOutcome, error: string | null, up: number, down: number, clean = false): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#close(clean);
    this.#deps.registry.delete(this.track);
    const refusal = this.#refusal;
    const route = this.#route;
    this.#deps.onClosed({
      protocol: "TCP",
      entrypoint: this.entrypoint,
      route: route?.name ?? null,
      service: route?.service ?? null,
      upstream: this.#upstream,
      clientIp: this.client.address,
      clientPort: this.client.port,
      sni: this.sni,
      tls: this.tls,
      bytesUp: up,
      bytesDown: down,
      durationMs: performance.now() - this.#started,
      outcome: refusal?.outcome ?? outcome,
      attempts: this.#attempts,
      error: refusal?.reason ?? error,
    });
  }
}

/** The log record of a connection refused at accept (limit reached, shutting down). */
export function refusedRecord(entrypoint: string, conn: Deno.Conn, reason: string): TcpRecord {
  const { peer } = connEnds(conn);
  return {
    protocol: "TCP",
    entrypoint,
    route: null,
    service: null,
    upstream: null,
    clientIp: peer.address,
    clientPort: peer.port,
    sni: null,
    tls: "none",
    bytesUp: 0,
    bytesDown: 0,
    durationMs: 0,
    outcome: "refused",
    attempts: 0,
    error: reason,
  };
}

function closeQuietly(conn: ByteConn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
