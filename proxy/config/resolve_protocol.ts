/**
 * Resolving a service's HTTP version to its servers (`protocol`): what each kind of server URL
 * allows, with an error at the server or the key that disagrees.
 *
 * - `http/1.1` (default): HTTP/1.1 to http:// and https:// servers.
 * - `h2`: HTTP/2, by ALPN h2 on https:// (a server that does not agree fails to connect), with
 *   prior knowledge (h2c) on http://.
 * - `auto`: https:// only; ALPN offers h2 and http/1.1 and the server chooses.
 * - h2c:// servers speak HTTP/2 whatever `protocol` is not set to; `http/1.1` or `auto` written
 *   beside one is an error.
 *
 * Tested by resolve_protocol_test.ts.
 *
 * @module
 */
import type { Context } from "./context.ts";
import { quote } from "./errors.ts";
import type { RawService } from "./schema.ts";
import type { Service } from "./types.ts";

/** The service's `httpProtocol`, checked against its servers. */
export function httpProtocol(ctx: Context, raw: RawService): Service["httpProtocol"] {
  const protocol = raw.protocol ?? "http/1.1";
  if (raw.protocol === undefined) return protocol;
  const path = ctx.path(raw);
  raw.servers.forEach((item, i) => {
    const url = "weight" in item ? item.url : item;
    if (url.scheme === "tcp") return;
    if (url.scheme === "h2c" && protocol !== "h2") {
      ctx.error(
        [...path, "servers", i],
        `server ${quote(url.url)} speaks HTTP/2 without TLS (h2c://), but "protocol" is ` +
          `${quote(protocol)}: remove "protocol" or set it to "h2"`,
      );
    } else if (protocol === "auto" && url.scheme !== "https") {
      ctx.error(
        [...path, "servers", i],
        `protocol "auto" chooses by ALPN, which needs TLS, but server ${quote(url.url)} is ` +
          `plain: use "h2" (HTTP/2 with prior knowledge) or "http/1.1"`,
      );
    }
  });
  return protocol;
}
