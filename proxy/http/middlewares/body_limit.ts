/**
 * `body_limit`: a request body over the limit is refused with 413 (reason `body_too_large`): at
 * once when its declared length is over, else when the bytes that stream through pass it.
 *
 * Tested by body_limit_test.ts.
 */
import type { BodyLimitSpec, Middleware } from "../../config/types.ts";
import { tapBody } from "../../proto/body_tap.ts";
import { RequestError } from "../../proto/rejection.ts";
import type { Built } from "./middleware.ts";
import { refusal } from "./middleware.ts";

export function bodyLimit(def: BodyLimitSpec & Middleware): Built {
  const { name, maxBytes } = def;
  return {
    phase: {
      name,
      request(ctx) {
        const body = ctx.body;
        if (body === null) return undefined;
        if (body.length > maxBytes) {
          throw refusal(
            name,
            "body_too_large",
            413,
            `body of ${body.length} bytes over body_limit`,
          );
        }
        if (body.length >= 0) return undefined;
        let total = 0;
        const log = ctx.log;
        ctx.body = tapBody(body, {
          chunk(chunk) {
            if ((total += chunk.length) <= maxBytes) return;
            log.answeredBy(name, "body_too_large");
            const err = new RequestError(413, "request body over body_limit");
            body.cancel(err);
            throw err;
          },
        });
        return undefined;
      },
    },
  };
}
