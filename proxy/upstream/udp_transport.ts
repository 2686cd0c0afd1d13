/**
 * Datagrams to one udp:// server: each UDP session opens its own socket here (an ephemeral port,
 * so the server's replies find their client). Deno's datagram sockets are never connected, so
 * the kernel does not report ICMP "port unreachable" to them: a server that is down shows up as
 * a session without replies, not as an error.
 *
 * Tested by udp/forwarder_test.ts.
 */
import type { ServerRef } from "../config/types.ts";
import type { ByteConn } from "../net/buffered_conn.ts";
import type { ConnectionCounts, ProbeResult, Transport } from "./transport.ts";

export class UdpTransport implements Transport {
  /** Where the server's datagrams go. */
  readonly target: Deno.NetAddr;
  #open = 0;

  constructor(ref: ServerRef) {
    this.target = { transport: "udp", hostname: ref.hostname, port: ref.port };
  }

  /** A new socket for one session's datagrams to and from the server. */
  open(): Deno.DatagramConn {
    const ipv6 = this.target.hostname.includes(":");
    const loopback = this.target.hostname === "127.0.0.1" || this.target.hostname === "::1";
    const hostname = loopback ? this.target.hostname : ipv6 ? "::" : "0.0.0.0";
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

  probe(): Promise<ProbeResult> {
    return Promise.resolve({ ok: false, detail: "udp services have no active check" });
  }

  connections(): ConnectionCounts {
    return { open: this.#open, idle: 0 };
  }

  close(): void {}
}
