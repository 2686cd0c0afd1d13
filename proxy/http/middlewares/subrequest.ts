/**
 * A GET that a middleware sends to a service of its own (forward_auth's auth service, errors'
 * page service): through the one attempt loop (upstream/attempts.ts) and the service's HTTP
 * transports, so selection, health, connection pools and safe retries are the same as for any
 * request; bounded by `timeoutMs` and by the client's request.
 *
 * Tested by forward_auth_test.ts and error_pages_test.ts.
 */
import { UpstreamError, type UpstreamResponse } from "../../proto/exchange.ts";
import type { HeaderList } from "../../proto/header_list.ts";
import { type Attempted, attemptServers } from "../../upstream/attempts.ts";
import type { ServiceRuntime } from "../../upstream/service.ts";
import { upstreamHost } from "../authority.ts";
import type { RequestContext } from "../context.ts";

/** Response heads from a service may be as large as an upstream's. */
const MAX_HEAD = 64 * 1024;

export interface Subrequest {
  readonly result: Attempted<UpstreamResponse>;
  /** True when `timeoutMs` passed before an answer. */
  readonly timedOut: boolean;
}

/** GET `target` of `service` with `headers`, within `timeoutMs`. */
export async function askService(
  ctx: RequestContext,
  service: ServiceRuntime,
  target: string,
  headers: HeaderList,
  timeoutMs: number,
): Promise<Subrequest> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = AbortSignal.any([ctx.req.signal, timeout]);
  const result = await attemptServers(service, { clientIp: ctx.clientIp, signal }, {
    run: (server) =>
      service.http(server).exchange({
        method: "GET",
        target,
        host: upstreamHost(service.config.host, ctx.authority, server.ref),
        headers,
        body: null,
      }, {
        responseHeaderMs: timeoutMs,
        bodyIdleMs: timeoutMs,
        maxHeaderBytes: MAX_HEAD,
        signal,
        replayable: () => true,
      }),
    judge(err) {
      const e = err instanceof UpstreamError ? err : new UpstreamError("reset", true, String(err));
      // A GET without a body may go to another server, unless time is up or the client left.
      return {
        error: e,
        serverFault: !ctx.req.signal.aborted,
        retry: !signal.aborted && (!e.requestSent || e.kind === "reset"),
      };
    },
  });
  const timedOut = timeout.aborted || (!result.ok && result.error?.kind === "timeout");
  return { result, timedOut };
}
