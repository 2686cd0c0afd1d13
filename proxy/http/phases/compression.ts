/**
 * Phase "compression": on the way in, what the client accepts (Accept-Encoding, Range...); on
 * the way out, the upstream's answer is (re)compressed by the route's rules (compress/ and
 * docs/configuration.md). Gatehouse's own answers are left as they are.
 *
 * Tested by the compress/ tests (stage_test.ts, sse_test.ts, double_encoding_test.ts).
 */
import type { Phase } from "../context.ts";
import { codingFacts, compressResponse } from "../compress/stage.ts";

export const compression: Phase = {
  name: "compression",
  request(ctx) {
    ctx.coding = codingFacts(ctx.req);
    return undefined;
  },
  response(ctx, res) {
    if (!ctx.fromUpstream || ctx.coding === null) return res;
    return compressResponse(ctx.coding, res, ctx.route!.compression);
  },
};
