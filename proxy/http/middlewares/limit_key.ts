/**
 * Whose bucket or count a request uses, for `rate_limit` and `in_flight_limit`: the client's
 * address, the route (one for everybody), or a request header's value (the client's address
 * when the header is absent). Long header values are replaced by their digest, so that a key
 * takes at most a few dozen bytes whatever the client sends.
 *
 * Tested by rate_limit_test.ts and in_flight_limit_test.ts.
 */
import { createHash } from "node:crypto";
import type { LimitKey } from "../../config/types.ts";
import type { RequestContext } from "../context.ts";

const LONG = 64;

export function limitKeyOf(key: LimitKey): (ctx: RequestContext) => string {
  switch (key.from) {
    case "client_ip":
      return (ctx) => ctx.clientIp;
    case "route":
      return (ctx) => ctx.route!.name;
    case "header": {
      const name = key.header;
      return (ctx) => {
        const value = ctx.req.headers.getJoined(name);
        if (value === null) return ctx.clientIp;
        if (value.length <= LONG) return "\u0001" + value;
        return "\u0002" + createHash("sha256").update(value).digest("base64");
      };
    }
  }
}
