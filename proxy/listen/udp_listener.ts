/**
 * One UDP entrypoint at run time: its socket, and the table of sessions (udp/session.ts) by
 * client address. A datagram from a new address opens a session under the connection limits
 * (`max_connections` caps an entrypoint's sessions; a refused datagram is dropped and counted);
 * the next ones go to the open session. A reload keeps the socket and the sessions while the
 * entrypoint's address stays; new sessions use the new route and service. Datagrams are received
 * into one reused buffer (see udp/session.ts for when it may be overwritten).
 *
 * Deno binds datagram sockets with SO_REUSEADDR at most, never SO_REUSEPORT on Linux (ext/net
 * ops.rs): two isolates cannot share a UDP port, so a UDP entrypoint lives in one isolate.
 *
 * Tested by udp/udp_test.ts.
 */
import type { Config, Entrypoint } from "../config/types.ts";
import type { UdpRecord } from "../telemetry/records.ts";
import type { ServiceRuntime } from "../upstream/service.ts";
import { MAX_DATAGRAM, sessionKey, UdpSession } from "../udp/session.ts";
import { bindOrExplain, Listener, type ListenerDeps } from "./listener.ts";
import type { ListenerKind } from "./listener_kind.ts";

export interface UdpListenerDeps extends ListenerDeps {
  /** The live config and services. */
  readonly snapshot: () => {
    readonly config: Config;
    readonly services: ReadonlyMap<string, ServiceRuntime>;
  };
  /** A session ended. */
  readonly onClosed: (record: UdpRecord) => void;
}

export class UdpListener extends Listener {
  readonly port: number;
  readonly #socket: Deno.DatagramConn;
  readonly #deps: UdpListenerDeps;
  readonly #sessions = new Map<string, UdpSession>();
  #closed = false;

  constructor(config: Entrypoint, deps: UdpListenerDeps) {
    super(config, "udp", deps);
    this.#deps = deps;
    const { hostname, port } = config.address;
    this.#socket = bindOrExplain(
      config,
      () => Deno.listenDatagram({ hostname, port, transport: "udp" }),
    );
    this.port = (this.#socket.addr as Deno.NetAddr).port;
    this.#receive();
  }

  canUpdate(next: Entrypoint, kind: ListenerKind): boolean {
    return kind === "udp" && this.sameAddress(next);
  }

  update(next: Entrypoint): void {
    this.config = next;
  }

  refreshCertificates(): void {}

  /** Stops receiving; open sessions drain through the connection registry. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Replies still need the socket: it closes when the last session has ended.
    if (this.#sessions.size === 0) this.#closeSocket();
  }

  #closeSocket(): void {
    try {
      this.#socket.close();
    } catch {
      // already closed
    }
  }

  async #receive(): Promise<void> {
    const buffer = new Uint8Array(MAX_DATAGRAM);
    for (;;) {
      let data: Uint8Array;
      let from: Deno.NetAddr;
      try {
        const [bytes, addr] = await this.#socket.receive(buffer);
        data = bytes;
        from = addr as Deno.NetAddr;
      } catch {
        if (this.#closed) return;
        continue;
      }
      if (this.#closed) continue;
      const session = this.#sessions.get(sessionKey(from)) ?? this.#open(from);
      // `data` is a view of `buffer`: receive again only when its send upstream is done.
      const sending = session?.forward(data);
      if (sending !== undefined) await sending;
    }
  }

  #open(client: Deno.NetAddr): UdpSession | null {
    const { config, services } = this.#deps.snapshot();
    if (this.refuse({ close() {} }, config) !== null) return null;
    const route = config.udpRoutes.find((r) => r.entrypoints.includes(this.name));
    const service = route && services.get(route.service);
    if (route === undefined || service === undefined) return null;
    const session = new UdpSession(this.name, client, route, service, {
      registry: this.registry,
      reply: (data, to) => this.#socket.send(data, to),
      onClosed: (ended, record) => {
        this.#sessions.delete(ended.key);
        this.#deps.onClosed(record);
        if (this.#closed && this.#sessions.size === 0) this.#closeSocket();
      },
    });
    this.#sessions.set(session.key, session);
    return session;
  }
}
