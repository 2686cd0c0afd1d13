/**
 * `basic_auth`: HTTP Basic credentials (RFC 7617) checked against bcrypt or argon2id hashes in
 * a worker isolate (passwords.ts). Without credentials, or with wrong ones, the answer is 401
 * with `WWW-Authenticate: Basic realm="..."` (reasons `no_credentials`, `bad_credentials`); when
 * too many checks wait, 503 (reason `auth_busy`). An unknown user costs the same check as a
 * known one (against the first user's hash), so timing does not tell which names exist. The
 * user who passed is on the access log line (and in the combined format's user field), and in
 * `user_header` to the upstream; Authorization is removed unless `remove_header: false`.
 *
 * Tested by basic_auth_test.ts.
 */
import type { BasicAuthSpec, Middleware } from "../../config/types.ts";
import type { RequestContext } from "../context.ts";
import type { Built, SharedServices } from "./middleware.ts";
import { refusal } from "./middleware.ts";

const decoder = new TextDecoder();

export function basicAuth(def: BasicAuthSpec & Middleware, deps: SharedServices): Built {
  const name = def.name;
  const users = new Map(def.users.map((u) => [u.name, u.hash]));
  const dummy = def.users[0]?.hash ?? "";
  const challenge: [string, string][] = [[
    "www-authenticate",
    `Basic realm="${def.realm}", charset="UTF-8"`,
  ]];
  const unauthorized = (reason: string, message: string) =>
    refusal(name, reason, 401, message, { headers: challenge });
  const admit = (ctx: RequestContext, user: string) => {
    ctx.log.user = user;
    const headers = ctx.req.headers;
    if (def.removeHeader) headers.delete("authorization");
    if (def.userHeader !== null) headers.set(def.userHeader, user);
    return undefined;
  };
  return {
    phase: {
      name,
      request(ctx) {
        const credentials = parseBasic(ctx.req.headers.getJoined("authorization"));
        if (credentials === null) throw unauthorized("no_credentials", "no Basic credentials");
        const [user, password] = credentials;
        const hash = users.get(user);
        const checked = deps.passwords.check(user, password, hash ?? dummy);
        if (checked === true && hash !== undefined) return admit(ctx, user);
        return Promise.resolve(checked).then((ok) => {
          if (ok === null) {
            throw refusal(name, "auth_busy", 503, "too many password checks waiting", {
              retryAfter: 1,
            });
          }
          if (!ok || hash === undefined) {
            throw unauthorized("bad_credentials", `wrong password or unknown user "${user}"`);
          }
          return admit(ctx, user);
        });
      },
    },
  };
}

/** [user, password] from an Authorization field, or null when it holds no Basic credentials. */
function parseBasic(field: string | null): [string, string] | null {
  if (field === null) return null;
  const m = /^basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(field);
  if (m === null) return null;
  let decoded: string;
  try {
    decoded = decoder.decode(Uint8Array.from(atob(m[1]), (c) => c.charCodeAt(0)));
  } catch {
    return null;
  }
  const colon = decoded.indexOf(":");
  return colon < 0 ? null : [decoded.slice(0, colon), decoded.slice(colon + 1)];
}
