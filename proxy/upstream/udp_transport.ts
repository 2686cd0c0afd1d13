/**
 * Datagrams to one udp:// server: each UDP session opens its own socket here (an ephemeral port,
 * so the server's replies find their client). Deno's datagram sockets are never connected, so
 * the kernel does not report ICMP "port unreachable" to them: a server that is down shows up as
 * a session without replies, not as an error. The active check sends the configured datagram
 * and counts any reply within the timeout as healthy.
 *
 * Tested by udp/forwarder_test.ts.
 */
import type { ActiveHealthCheck, ServerRef } from "../config/types.ts";
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

  /** Sends the check's datagram from a fresh socket; any reply from the server is healthy. */
  async probe(check: ActiveHealthCheck, signal: AbortSignal): Promise<ProbeResult> {
    const socket = this.open();
    const stop = () => socket.close();
    signal.addEventListener("abort", stop, { once: true });
    try {
      await socket.send(new TextEncoder().encode(check.send ?? ""), this.target);
      for (;;) {
        const [data, from] = await socket.receive();
        if ((from as Deno.NetAddr).port !== this.target.port) continue;
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
