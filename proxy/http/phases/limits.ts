/**
 * Phase "limits": `limits.max_requests_in_flight` (over it, 503 with Retry-After: the request
 * counts until it ends, `ctx.atEnd`), the route's `max_body` (a declared length over it is 413 at
 * once; a body of unknown length is cut at the limit while it streams, and also answered 413),
 * and the count of request body bytes for the access log.
 *
 * Tested by handler_test.ts and handler_streaming_test.ts (max_body, declared and streamed), and
 * requests_in_flight_test.ts.
 */
import { tapBody } from "../../proto/body_tap.ts";
import type { BodyReader } from "../../proto/message.ts";
import { RequestError } from "../../proto/rejection.ts";
import type { Phase } from "../context.ts";
import { ProxyFailure } from "../funnel.ts";
import { limitOf } from "../../net/connection_counts.ts";

export const limits: Phase = {
  name: "limits",
  request(ctx) {
    const requests = ctx.deps.requests;
    if (requests !== undefined) {
      const set = ctx.snapshot.config.limits.maxRequestsInFlight;
      const max = limitOf(set, requests.auto);
      // Counted under no limit (0) too, for gatehouse_requests_in_flight.
      if (!requests.admit(max)) {
        const why = `${max} requests are in flight (limits.max_requests_in_flight${
          set === "auto" ? ": auto, what the memory limit holds" : ""
        })`;
        throw new ProxyFailure(503, "unavailable", why, {
          retryAfter: 1,
          text: `503 Service Unavailable: ${why}, try again later\n`,
        });
      }
      ctx.atEnd(requests.end);
    }
    const limit = ctx.route!.maxBodyBytes;
    const body = ctx.body;
    if (body === null) return undefined;
    if (limit !== null && body.length > limit) {
      throw new ProxyFailure(413, "client", "body over max_body");
    }
    ctx.body = ctx.log.countIn(limitBody(body, limit));
    return undefined;
  },
};

/** Enforces max_body on bodies of unknown length while they stream. */
function limitBody(body: BodyReader, limit: number | null): BodyReader {
  if (limit === null || body.length >= 0) return body;
  let total = 0;
  return tapBody(body, {
    chunk(chunk) {
      if ((total += chunk.length) <= limit) return;
      const err = new RequestError(413, "request body over max_body");
      body.cancel(err);
      throw err;
    },
  });
}
