/**
 * Datagrams to one udp:// server: each UDP session opens its own socket here (an ephemeral port,
 * so the server's replies find their client). Deno's datagram sockets are never connected, so
 * the kernel does not report ICMP "port unreachable" to them: a server that is down shows up as
 * a session without replies, not as an error. The active check sends the configured datagram
 * and counts any reply within the timeout as healthy.
 *
 * A server named by hostname is resolved when a session opens (results shared for
 * RESOLVE_REUSE_MS), never per datagram: Deno's `send` to a hostname runs getaddrinfo on a
 * blocking thread for every datagram (ext/net `op_net_send_udp`).
 *
 * Tested by udp/udp_test.ts.
 */
import { lookup } from "node:dns/promises";
import type { ActiveHealthCheck, ServerRef } from "../config/types.ts";
import type { ByteConn } from "../net/buffered_conn.ts";
import { ipAddressBytes } from "../net/ip_address.ts";
import type { ConnectionCounts, ProbeResult, Transport } from "./transport.ts";
import { monotonicNow } from "../clock.ts";

/** How long a hostname's address serves new sessions before it is looked up again. */
export const RESOLVE_REUSE_MS = 5000;

export class UdpTransport implements Transport {
  /** The server as configured (hostname or IP literal). */
  readonly target: Deno.NetAddr;
  #open = 0;
  /** The literal's address, or the last lookup of the hostname and when it stops serving. */
  #address: Promise<Deno.NetAddr> | null = null;
  #addressUntil = Infinity;

  constructor(ref: ServerRef) {
    this.target = { transport: "udp", hostname: ref.hostname, port: ref.port };
    if (isIpLiteral(ref.hostname)) this.#address = Promise.resolve(this.target);
  }

  /** The server's IP address and port: the literal, or the hostname looked up. */
  address(): Promise<Deno.NetAddr> {
    if (this.#address === null || this.#addressUntil <= monotonicNow()) {
      const { hostname, port } = this.target;
      const looked = lookup(hostname).then(
        ({ address }): Deno.NetAddr => ({ transport: "udp", hostname: address, port }),
        (err) => {
          if (this.#address === looked) this.#address = null;
          throw new Error(`Cannot resolve ${hostname}: ${(err as Error).message}`);
        },
      );
      this.#address = looked;
      this.#addressUntil = monotonicNow() + RESOLVE_REUSE_MS;
    }
    return this.#address;
  }

  /** A new socket for one session's datagrams to and from `address` (from `address()`). */
  open(address: Deno.NetAddr): Deno.DatagramConn {
    const ipv6 = address.hostname.includes(":");
    const loopback = address.hostname === "127.0.0.1" || address.hostname === "::1";
    const hostname = loopback ? address.hostname : ipv6 ? "::" : "0.0.0.0";
    const socket = Deno.listenDatagram({ hostname, port: 0, transport: "udp" });
    this.#open++;
    return socket;
  }

  /** A session's socket was closed. */
  released(): void {
    this.#open--;
  }

  dial(): Promise<ByteConn> {
    return Promise.reject(new Error(`Cannot open a byte stream to udp://: it takes datagrams`));
  }

  /** Sends the check's datagram from a fresh socket; any reply from the server is healthy. */
  async probe(check: ActiveHealthCheck, signal: AbortSignal): Promise<ProbeResult> {
    let address: Deno.NetAddr;
    try {
      address = await this.address();
    } catch (err) {
      return { ok: false, detail: (err as Error).message };
    }
    const socket = this.open(address);
    const stop = () => socket.close();
    signal.addEventListener("abort", stop, { once: true });
    try {
      await socket.send(new TextEncoder().encode(check.send ?? ""), address);
      for (;;) {
        const [data, from] = await socket.receive();
        if ((from as Deno.NetAddr).port !== address.port) continue;
        return { ok: true, detail: `replied with ${data.length} bytes` };
      }
    } catch (err) {
      const detail = signal.aborted
        ? "no reply within the check's timeout"
        : `Cannot check: ${(err as Error).message}`;
      return { ok: false, detail };
    } finally {
      signal.removeEventListener("abort", stop);
      if (!signal.aborted) socket.close();
      this.released();
    }
  }

  connections(): ConnectionCounts {
    return { open: this.#open, idle: 0 };
  }

  close(): void {}
}

function isIpLiteral(hostname: string): boolean {
  try {
    ipAddressBytes(hostname);
    return true;
  } catch {
    return false;
  }
}
