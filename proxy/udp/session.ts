/**
 * One UDP session: a client address, the upstream socket opened for it (so the server's replies
 * find their client), and its counts. Datagrams pass whole, one send per datagram each way, never
 * merged or split; every reply datagram is delivered. The session is a tracked connection in the
 * "tunnel" state: its deadline is the route's idle timeout after the last datagram either way.
 * Shutdown and the removal of its entrypoint shorten that to DRAIN_IDLE_MS; the removal of its
 * route closes it after the drain time.
 *
 * Per datagram there is no allocation of a receive buffer: the entrypoint and each session's
 * upstream socket receive into one buffer of MAX_DATAGRAM bytes each, reused. Deno's `send`
 * keeps a reference to the bytes (no copy) until its promise settles (ext/net `op_net_send_udp`),
 * so a buffer is received into again only after the send of its last datagram has settled:
 * `forward` returns that send, and the reply loop awaits its own.
 *
 * Tested by udp/udp_test.ts.
 */
import type { UdpRoute } from "../config/types.ts";
import { type ConnectionRegistry, TrackedConnection } from "../net/connections.ts";
import type { UdpOutcome, UdpRecord } from "../telemetry/records.ts";
import { attemptServers } from "../upstream/attempts.ts";
import type { InflightLease } from "../upstream/inflight.ts";
import type { UpstreamServer } from "../upstream/server_state.ts";
import type { ServiceRuntime } from "../upstream/service.ts";
import { UdpTransport } from "../upstream/udp_transport.ts";
import { UpstreamError } from "../proto/exchange.ts";
import { monotonicNow } from "../clock.ts";

export interface UdpSessionDeps {
  readonly registry: ConnectionRegistry;
  /** Sends a reply datagram to the client from the entrypoint's socket. */
  readonly reply: (data: Uint8Array, client: Deno.NetAddr) => Promise<unknown>;
  /** The session ended (its record is final). */
  readonly onClosed: (session: UdpSession, record: UdpRecord) => void;
}

/** A receive buffer's size: the largest UDP payload (65,507 bytes over IPv4, 65,527 over IPv6). */
export const MAX_DATAGRAM = 65_535;
/** Datagrams waiting while the upstream socket is being opened. */
const MAX_PENDING = 64;
/**
 * Once shutdown began or the entrypoint was removed, a session ends this long after its last
 * datagram (replies in flight still arrive) instead of after the route's idle timeout.
 */
export const DRAIN_IDLE_MS = 1000;

export class UdpSession {
  readonly key: string;
  readonly client: Deno.NetAddr;
  readonly track: TrackedConnection;
  readonly #entrypoint: string;
  readonly #route: UdpRoute;
  readonly #service: ServiceRuntime;
  readonly #deps: UdpSessionDeps;
  readonly #start = monotonicNow();
  #socket: Deno.DatagramConn | null = null;
  #transport: UdpTransport | null = null;
  /** The server's resolved address: where datagrams go and the only source of replies. */
  #address: Deno.NetAddr | null = null;
  #server: UpstreamServer | null = null;
  #lease: InflightLease | null = null;
  #pending: Uint8Array[] | null = [];
  #outcome: UdpOutcome = "idle";
  #error: string | null = null;
  #datagramsUp = 0;
  #bytesUp = 0;
  #datagramsDown = 0;
  #bytesDown = 0;

  constructor(
    entrypoint: string,
    client: Deno.NetAddr,
    route: UdpRoute,
    service: ServiceRuntime,
    deps: UdpSessionDeps,
  ) {
    this.key = sessionKey(client);
    this.client = client;
    this.#entrypoint = entrypoint;
    this.#route = route;
    this.#service = service;
    this.#deps = deps;
    this.track = new TrackedConnection(entrypoint, "udp", () => this.#end());
    this.track.state = "tunnel";
    this.track.route = route.name;
    this.track.onDrain = () => this.#touch();
    this.#touch();
    deps.registry.add(this.track);
    this.#connect();
  }

  /**
   * A datagram from the client. `data` may be a view of the caller's receive buffer: the caller
   * must not overwrite it before the returned promise settles (it never rejects). Nothing is
   * returned when the bytes were copied or dropped.
   */
  forward(data: Uint8Array): Promise<void> | undefined {
    if (this.track.closed) return;
    this.#touch();
    if (this.#pending !== null) {
      if (this.#pending.length < MAX_PENDING) this.#pending.push(data.slice());
      return;
    }
    return this.#send(data);
  }

  #touch(): void {
    const idle = this.#route.idleTimeout;
    this.track.deadline = monotonicNow() +
      (this.track.closing ? Math.min(idle, DRAIN_IDLE_MS) : idle);
  }

  async #connect(): Promise<void> {
    const result = await attemptServers(this.#service, {
      clientIp: this.client.hostname,
      signal: new AbortController().signal,
    }, {
      run: (server) => {
        const transport = this.#service.transport(server);
        if (!(transport instanceof UdpTransport)) {
          return Promise.reject(new Error(`${server.url} is not a udp:// server`));
        }
        return transport.address().then((address) => {
          try {
            return { transport, address, socket: transport.open(address) };
          } catch (err) {
            throw new Error(`Cannot open a socket to ${server.url}: ${(err as Error).message}`);
          }
        });
      },
      judge: (err) => ({
        error: new UpstreamError("connect", false, (err as Error).message),
        serverFault: false,
        retry: true,
      }),
    });
    if (!result.ok) {
      this.#outcome = "unavailable";
      this.#error = result.error?.message ??
        `no available server in service "${this.#service.name}"`;
      this.track.close();
      return;
    }
    this.#server = result.server;
    this.#lease = result.lease;
    this.#transport = result.value.transport;
    this.#address = result.value.address;
    this.#socket = result.value.socket;
    if (this.track.closed) {
      this.#release();
      return;
    }
    const pending = this.#pending ?? [];
    this.#pending = null;
    for (const data of pending) this.#send(data);
    this.#replies(this.#socket, this.#address);
  }

  /** Sends one datagram upstream; settles when the socket is done with `data`. */
  #send(data: Uint8Array): Promise<void> {
    this.#datagramsUp++;
    this.#bytesUp += data.length;
    return this.#socket!.send(data, this.#address!).then(ignore, (err) => {
      this.#error ??= `Cannot send to ${this.#server?.url}: ${(err as Error).message}`;
    });
  }

  async #replies(socket: Deno.DatagramConn, server: Deno.NetAddr): Promise<void> {
    const buffer = new Uint8Array(MAX_DATAGRAM);
    for (;;) {
      let data: Uint8Array;
      let from: Deno.NetAddr;
      try {
        const [bytes, addr] = await socket.receive(buffer);
        data = bytes;
        from = addr as Deno.NetAddr;
      } catch (err) {
        if (!this.track.closed) {
          this.#error ??= `Cannot receive from ${this.#server?.url}: ${(err as Error).message}`;
          this.track.close();
        }
        return;
      }
      // Only the server's datagrams are replies: anything else reaching this port is dropped.
      if (from.port !== server.port || from.hostname !== server.hostname) continue;
      this.#touch();
      this.#datagramsDown++;
      this.#bytesDown += data.length;
      // `data` is a view of `buffer`: the next receive waits until the reply's send is done.
      try {
        await this.#deps.reply(data, this.client);
      } catch {
        // The client's address no longer takes datagrams: its session idles out.
      }
    }
  }

  #release(): void {
    try {
      this.#socket?.close();
    } catch {
      // already closed
    }
    if (this.#socket !== null) this.#transport?.released();
    this.#lease?.release();
    this.#lease = null;
  }

  #end(): void {
    const hard = this.track.hardDeadline;
    if (hard !== 0 && hard <= monotonicNow() && this.#outcome === "idle") this.#outcome = "closed";
    this.#release();
    this.#deps.registry.delete(this.track);
    this.#deps.onClosed(this, {
      protocol: "UDP",
      entrypoint: this.#entrypoint,
      route: this.#route.name,
      service: this.#service.name,
      upstream: this.#server?.url ?? null,
      clientIp: this.client.hostname,
      clientPort: this.client.port,
      datagramsUp: this.#datagramsUp,
      bytesUp: this.#bytesUp,
      datagramsDown: this.#datagramsDown,
      bytesDown: this.#bytesDown,
      durationMs: monotonicNow() - this.#start,
      outcome: this.#outcome,
      error: this.#error,
    });
  }
}

function ignore(): void {}

/** The table key of a client address. */
export function sessionKey(addr: Deno.NetAddr): string {
  return `${addr.hostname}|${addr.port}`;
}
