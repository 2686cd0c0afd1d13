/**
 * The real HTTP/1.1 engine (proto/h1/server.ts) on one connection, without the rest of Gatehouse:
 * for tests of the engine itself.
 */
import { type H1Limits, serveH1 } from "../proto/h1/server.ts";
import type { Handler } from "../proto/message.ts";
import type { ByteConn } from "../net/buffered_conn.ts";
import { ConnectionRegistry, TrackedConnection } from "../net/connections.ts";

/**
 * Serves `conn` with `handler` until it closes, tracked in a registry of its own (whose sweep
 * enforces the deadlines); `close` closes the underlying connection. `limits` replaces some of
 * the defaults (10 s deadlines, 64 KiB heads).
 */
export async function serveWithEngine(
  conn: ByteConn,
  close: () => void,
  handler: Handler,
  limits: Partial<H1Limits> = {},
): Promise<void> {
  const registry = new ConnectionRegistry();
  const track = new TrackedConnection("web", "http", close);
  registry.add(track);
  await serveH1(conn, {
    client: { address: "127.0.0.1", port: 0, entrypoint: "web", tls: false, serverName: null },
    track,
    registry,
    limits: () => ({
      headerReadMs: 10_000,
      keepAliveIdleMs: 10_000,
      maxHeaderBytes: 65_536,
      sendIdleMs: 10_000,
      ...limits,
    }),
    handler,
  });
}
