/**
 * Upgrade tunnels (WebSocket and any other HTTP/1.1 Upgrade protocol) as a raw byte tunnel:
 * the upgrade request goes to the upstream like any request; when the upstream answers 101,
 * its response head goes to the client and from then on bytes flow both ways untouched, so
 * subprotocols, extensions, frame sizes and close codes are whatever the two ends negotiate.
 * Any other answer (403, 426, 500...) reaches the client as a normal response.
 */
import type { Route } from "../config/types.ts";
import { pipeBoth } from "../net/pipe.ts";
import type { ServiceRuntime } from "../upstream/service.ts";
import { tapBody } from "../proto/body_tap.ts";
import { proxyResponse } from "../proto/responses.ts";
import { forward, type ForwardRequest } from "./forward.ts";
import { writeAll } from "../net/buffered_conn.ts";
import { encodeHead, serializeFields } from "../proto/h1/write.ts";
import type { HeaderList } from "../proto/header_list.ts";
import { stripHopByHop } from "./headers.ts";
import { type IncomingRequest, type OutgoingResponse, TAKEN_OVER } from "../proto/message.ts";

export interface TunnelOptions {
  readonly route: Route;
  readonly service: ServiceRuntime;
  readonly maxHeaderBytes: number;
  /** The pipeline's response-header phase (Via, request id, route header operations). */
  readonly responseHeaders: (headers: HeaderList, version: string) => void;
}

export interface TunnelResult {
  /** TAKEN_OVER once a tunnel ran (and ended); otherwise the response for the client. */
  readonly response: OutgoingResponse | typeof TAKEN_OVER;
  readonly server: string | null;
  readonly attempts: number;
  readonly bytesUp: number;
  readonly bytesDown: number;
  readonly error: string | null;
}

/** Sends an upgrade request upstream and, on 101, runs the tunnel until both sides close. */
export async function tunnel(
  req: IncomingRequest,
  fwd: ForwardRequest,
  opts: TunnelOptions,
): Promise<TunnelResult> {
  const result = await forward(req, fwd, opts);
  if (!result.ok) {
    return {
      response: proxyResponse(result.status),
      server: result.server?.url ?? null,
      attempts: result.attempts,
      bytesUp: 0,
      bytesDown: 0,
      error: result.message,
    };
  }
  const { response: up, server, lease } = result;
  const base = { server: server.url, attempts: result.attempts, error: null };
  if (up.upgrade === null) {
    // Refused: the client gets the upstream's own answer, minus the upgrade offer.
    stripHopByHop(up.headers);
    opts.responseHeaders(up.headers, up.version);
    const body = up.body;
    const finished = () => lease.release();
    const response: OutgoingResponse = {
      status: up.status,
      reason: up.reason,
      headers: up.headers,
      body: body === null
        ? null
        : tapBody(body, { end: finished, error: finished, cancel: finished }),
    };
    if (body === null) finished();
    return { ...base, response, bytesUp: 0, bytesDown: 0 };
  }

  const protocol = up.headers.get("upgrade") ?? fwd.headers.get("upgrade") ?? "";
  stripHopByHop(up.headers, protocol);
  opts.responseHeaders(up.headers, up.version);
  const down = req.takeover!(opts.route.name);
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
    const head =
      serializeFields(up.headers, `HTTP/1.1 101 ${up.reason || "Switching Protocols"}\r\n`) +
      "\r\n";
    const early = up.upgrade.buffered;
    const first = encodeHead(head, early.length);
    first.set(early, head.length);
    await writeAll(down.conn, first);
    bytesDown += early.length;
    if (down.buffered.length > 0) {
      await writeAll(upstreamConn, down.buffered);
      bytesUp += down.buffered.length;
    }
    const moved = await pipeBoth(down.conn, upstreamConn, {
      idleMs: opts.route.timeouts.tunnelIdle,
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
    lease.release();
    down.finish();
  }
  return { ...base, response: TAKEN_OVER, bytesUp, bytesDown };
}
