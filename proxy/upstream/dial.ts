/**
 * Opening a connection to an upstream server: TCP (no Nagle delay), then TLS for `https`
 * servers through tls/client.ts, or a unix socket for `unix://` and `unix+tcp://` servers. Every
 * dial resolves the host name again, so an upstream container recreated with a new address is
 * reached on the next new connection.
 *
 * Tested by h1_transport_test.ts (plain and TLS servers) and the TCP listener tests.
 */
import type { ServerRef, UpstreamTls } from "../config/types.ts";
import type { ByteConn } from "../net/buffered_conn.ts";
import { connectInsecureTls, startClientTls } from "../tls/client.ts";

/** A dialled connection, and the protocol the server chose by ALPN (null: none or no TLS). */
export interface Dialled {
  readonly conn: ByteConn;
  readonly alpn: string | null;
}

/** Connects to `server`, offering `alpn` when it speaks TLS; rejects when `signal` aborts. */
export async function dialServer(
  server: ServerRef,
  upstreamTls: UpstreamTls,
  alpn: readonly string[],
  signal: AbortSignal,
): Promise<Dialled> {
  signal.throwIfAborted();
  if (server.path !== null) return { conn: await connectUnix(server.path, signal), alpn: null };
  const target = { hostname: server.hostname, port: server.port, alpn };
  if (server.scheme === "https" && upstreamTls.insecureSkipVerify) {
    return await connectInsecureTls(target, upstreamTls, signal);
  }
  const tcp = await Deno.connect({ hostname: server.hostname, port: server.port, signal });
  // Deno.connect resolves with the connection when it was made while `signal` aborted; an
  // abort listener added after that would never fire, and the handshake could wait forever.
  if (signal.aborted) {
    tcp.close();
    throw signal.reason;
  }
  tcp.setNoDelay(true);
  if (server.scheme !== "https") return { conn: tcp, alpn: null };
  return await startClientTls(tcp, target, upstreamTls, signal);
}

/**
 * Connects to the unix socket at `path`. Deno's unix connect takes no signal: an abort rejects
 * at once, and a connection that completes afterwards is closed.
 */
async function connectUnix(path: string, signal: AbortSignal): Promise<Deno.UnixConn> {
  const connecting = Deno.connect({ transport: "unix", path });
  const { promise: aborted, reject } = Promise.withResolvers<never>();
  const onAbort = () => reject(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await Promise.race([connecting, aborted]);
  } catch (err) {
    connecting.then((conn) => conn.close(), () => {});
    throw err;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
