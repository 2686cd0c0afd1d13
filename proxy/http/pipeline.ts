/**
 * The request pipeline: the one place that owns the order of the HTTP request phases. Each
 * phase is a file in phases/; adding one is a new file and one entry in PHASES.
 *
 *   checks -> acme_challenge -> entrypoint_policy -> route -> middlewares -> limits
 *     -> internal_services -> compression -> response_headers -> request_headers -> upstream
 *
 * On the way in each phase may answer (the later ones do not run); on the way out the answer
 * passes back through the response steps of the phases that ran, in reverse. Every failure,
 * thrown from any phase, goes through the one error funnel (funnel.ts), and the access log line
 * and the metrics come last, when the response body is done. Every request reads the routing
 * snapshot once, when it starts: a reload applies to the next request, never to one in progress.
 */
import type { AccessRecord } from "../telemetry/records.ts";
import { type Handler, TAKEN_OVER } from "../proto/message.ts";
import { type Answer, type Phase, type PipelineDeps, RequestContext } from "./context.ts";
import { funnel } from "./funnel.ts";
import { requestId } from "./headers.ts";
import { RequestLog } from "./request_log.ts";
import { acmeChallenge } from "./phases/acme_challenge.ts";
import { checks } from "./phases/checks.ts";
import { compression } from "./phases/compression.ts";
import { entrypointPolicy } from "./phases/entrypoint_policy.ts";
import { internalServices } from "./phases/internal_services.ts";
import { limits } from "./phases/limits.ts";
import { middlewares } from "./phases/middlewares.ts";
import { requestHeaders } from "./phases/request_headers.ts";
import { responseHeaders } from "./phases/response_headers.ts";
import { route } from "./phases/route.ts";
import { upstream } from "./phases/upstream.ts";

/** The phases, in order. The last one always answers. */
export const PHASES: readonly Phase[] = [
  checks,
  acmeChallenge,
  entrypointPolicy,
  route,
  middlewares,
  limits,
  internalServices,
  compression,
  responseHeaders,
  requestHeaders,
  upstream,
];

export interface Pipeline extends PipelineDeps {
  /** Called once per request when its response is complete (or failed), after its log line. */
  readonly onComplete?: (record: AccessRecord) => void;
}

/** The pipeline for requests accepted on `entrypoint`. */
export function createPipeline(entrypoint: string, deps: Pipeline): Handler {
  return async (req) => {
    const started = performance.now();
    const snapshot = deps.snapshot();
    const id = requestId(req.headers, snapshot.config.forwarding.requestIdHeader);
    const log = new RequestLog(req, entrypoint, id, started, deps.onComplete);
    const ctx = new RequestContext(req, entrypoint, snapshot, deps, log);
    let answer: Answer | undefined;
    try {
      // An index loop, and no await for a phase that answered synchronously: this runs for
      // every request.
      for (let i = 0; i < PHASES.length && answer === undefined; i++) {
        const step = ctx.enter(PHASES[i]);
        answer = step instanceof Promise ? await step : step;
      }
      if (answer === undefined) throw new Error("no phase answered the request");
    } catch (err) {
      answer = funnel(ctx, err);
    }
    if (answer === TAKEN_OVER) {
      ctx.onEnd?.();
      const moved = ctx.tunnel!;
      log.complete(101, moved.up, moved.down, null);
      return TAKEN_OVER;
    }
    let res;
    try {
      res = ctx.unwind(answer);
    } catch (err) {
      const body = answer.body;
      if (body !== null && !(body instanceof Uint8Array)) body.cancel(err);
      res = funnel(ctx, err);
    }
    return log.finish(res, ctx.onEnd);
  };
}
