/**
 * Upgrade tunnels (WebSocket and any other HTTP/1.1 Upgrade protocol) as a raw byte tunnel:
 * the upgrade request goes to the upstream like any request (phases/upstream.ts); when the
 * upstream answers 101, its response head goes to the client and from then on bytes flow both
 * ways untouched, so subprotocols, extensions, frame sizes and close codes are whatever the two
 * ends negotiate. Any other answer (403, 426, 500...) reaches the client as a normal response.
 *
 * Tested by the upgrade_*_test.ts files.
 */
import { pipeBoth } from "../net/pipe.ts";
import { writeAll } from "../net/buffered_conn.ts";
import type { UpgradedConn, UpstreamResponse } from "../proto/exchange.ts";
import type { IncomingRequest, OutgoingResponse } from "../proto/message.ts";

export interface TunnelOptions {
  /** The route that opened the tunnel (reloads that remove it drain it). */
  readonly route: string;
  /** Close both sides after this long without a byte either way; 0 = never. */
  readonly idleMs: number;
  /** The protocol the client asked for, when the upstream's 101 does not name one. */
  readonly protocol: string;
  /** The response phases, applied to the 101 head before it is written. */
  readonly decorate: (res: OutgoingResponse) => OutgoingResponse;
}

/** Bytes a finished tunnel moved. */
export interface TunnelBytes {
  readonly up: number;
  readonly down: number;
}

/**
 * Runs the tunnel of an upstream 101 until both sides close: the client's connection is taken
 * over from the HTTP engine, the 101 head goes out with the bytes the upstream sent after it,
 * then bytes are copied both ways. Releases the upstream connection when it ends.
 */
export async function runTunnel(
  req: IncomingRequest,
  up: UpstreamResponse & { readonly upgrade: UpgradedConn },
  opts: TunnelOptions,
): Promise<TunnelBytes> {
  if (!up.headers.has("upgrade")) up.headers.appendLower("upgrade", opts.protocol);
  const head101 = opts.decorate({
    status: 101,
    reason: up.reason || "Switching Protocols",
    headers: up.headers,
    body: null,
  });
  const down = req.takeover!(opts.route);
  const upstreamConn = up.upgrade.conn;
  down.onClose(() => {
    try {
      upstreamConn.close();
    } catch {
      // already closed
    }
  });
  let bytesUp = 0;
  let bytesDown = 0;
  try {
    const early = up.upgrade.buffered;
    await down.accept(head101, early);
    bytesDown += early.length;
    if (down.buffered.length > 0) {
      await writeAll(upstreamConn, down.buffered);
      bytesUp += down.buffered.length;
    }
    const moved = await pipeBoth(down.conn, upstreamConn, {
      idleMs: opts.idleMs,
      setDeadline: down.setDeadline,
    });
    bytesUp += moved.up;
    bytesDown += moved.down;
  } catch {
    try {
      down.conn.close();
    } catch {
      // already closed
    }
  } finally {
    up.upgrade.release();
    down.finish();
  }
  return { up: bytesUp, down: bytesDown };
}
