/**
 * Phase "upstream", the last one: the request goes to the route's service (forward.ts picks,
 * retries and fails over), and its answer comes back; an upgrade request whose upstream answers
 * 101 becomes a tunnel (upgrade.ts). A failure to get an answer is thrown to the error funnel.
 *
 * A WebSocket over HTTP/2 (an extended CONNECT, which the HTTP/2 front end turns into an Upgrade
 * request that can take the stream over) must become a tunnel: a 2xx on the stream would tell the
 * client the tunnel is open. So a route that does not tunnel (`upgrade: false`) answers 501, and
 * an upstream that answers 2xx without switching protocols 502; other answers (403, 426...) pass.
 *
 * An upstream's 101 reaches this phase only for an upgrade the client asked for: the HTTP/1.1
 * client refuses any other (proto/h1/client.ts), as a 502.
 *
 * Tested by forward_test.ts, pipeline_test.ts and the upgrade_*_test.ts files.
 */
import { DRAIN_CUT_TEXT } from "../../proto/responses.ts";
import { TAKEN_OVER } from "../../proto/message.ts";
import type { Phase } from "../context.ts";
import { forward, type ForwardResult } from "../forward.ts";
import { ProxyFailure } from "../funnel.ts";
import { forwardTrailers } from "../headers.ts";
import { runTunnel } from "../upgrade.ts";
import type { InflightLease } from "../../upstream/inflight.ts";

export const upstream: Phase = {
  name: "upstream",
  async request(ctx) {
    const req = ctx.req;
    const route = ctx.route!;
    const service = ctx.service;
    if (service === null) throw new Error(`route "${route.name}" has no service at run time`);
    const h2Tunnel = req.httpVersion === "2" && req.takeover !== null;
    if (h2Tunnel && ctx.upgrade === null) {
      throw new ProxyFailure(501, "client", `route "${route.name}" does not tunnel upgrades`, {
        text: "501 Not Implemented: this route does not tunnel WebSockets\n",
      });
    }
    const result = await forward(req, {
      method: req.method,
      target: ctx.upstreamTarget,
      authority: ctx.authority,
      headers: req.headers,
      body: ctx.body,
      trailers: ctx.body === null || req.trailers === null ? null : forwardTrailers(req.trailers),
    }, { route, service, maxHeaderBytes: ctx.config.limits.maxHeaderBytes, retry: ctx.retry });
    ctx.log.attempts = result.attempts;
    ctx.log.upstream = result.server?.url ?? null;
    if (!result.ok) throw failure(result);
    const up = result.response;
    if (h2Tunnel && up.upgrade === null && up.status >= 200 && up.status < 300) {
      up.body?.cancel();
      result.lease.release();
      throw new ProxyFailure(
        502,
        "upstream",
        `upstream answered ${up.status} to a WebSocket upgrade without switching protocols`,
      );
    }
    ctx.fromUpstream = true;
    ctx.upstreamVersion = up.version;
    if (up.upgrade !== null) {
      ctx.tunnel = await runTunnel(req, { ...up, upgrade: up.upgrade }, {
        route: route.name,
        idleMs: route.timeouts.tunnelIdle,
        protocol: ctx.upgrade ?? "",
        decorate: (res) => ctx.unwind(res),
      });
      result.lease.release();
      return TAKEN_OVER;
    }
    // The server's in-flight count ends with the response body. The closure is made outside
    // this function: one made here holds this whole request (its context) until then, which
    // under HTTP/1.1 load took the garbage collector from 3% to 11% of the CPU (measured).
    ctx.atEnd(releaseOnEnd(result.lease));
    return {
      status: up.status,
      reason: up.reason,
      headers: up.headers,
      body: up.body,
      trailers: up.trailers === null ? null : forwardTrailers(up.trailers),
      sendIdleMs: route.timeouts.bodyIdle,
    };
  },
};

/** The funnel's view of a forwarding failure. */
function failure(result: ForwardResult & { ok: false }): ProxyFailure {
  const source = result.failure === "drain"
    ? "drain"
    : result.failure === "unavailable"
    ? "unavailable"
    : result.failure === "client" || result.failure === "aborted"
    ? "client"
    : "upstream";
  return new ProxyFailure(result.status, source, result.message, {
    reason: result.reason,
    text: result.failure === "drain" ? DRAIN_CUT_TEXT : undefined,
    retryAfter: result.failure === "unavailable" ? result.retryAfter : 0,
  });
}

function releaseOnEnd(lease: InflightLease): () => void {
  return () => lease.release();
}
