/**
 * Resolving a `basic_auth` middleware: its inline users and its htpasswd file (read here and
 * recorded among the config's files, so a change to it reloads the config), each hash checked
 * to be bcrypt or argon2id with a cost that one check can afford.
 *
 * Tested by http/middlewares/basic_auth_test.ts.
 *
 * @module
 */
import type { Context } from "./context.ts";
import { quote, type Segment } from "./errors.ts";
import type { RawConfig } from "./schema.ts";
import type { BasicAuthSpec } from "./types.ts";

type RawMiddleware = RawConfig["middlewares"] extends ReadonlyMap<string, infer M> ? M : never;
type RawBasicAuth = NonNullable<RawMiddleware["basic_auth"]>;

const BCRYPT = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/;
const ARGON2ID =
  /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}$/;
/** bcrypt cost 14 takes about a second per check; more would let a few logins queue for long. */
const MAX_BCRYPT_COST = 14;
/** KiB: argon2id above 256 MiB per check, or more than 10 passes, is refused for the same reason. */
const MAX_ARGON2_MEMORY = 262_144;
const MAX_ARGON2_PASSES = 10;
const NAME = /^[^:\s"\\]+$/;

/** What is wrong with `hash`, if anything. */
export function hashProblem(hash: string): string | undefined {
  const bcrypt = BCRYPT.exec(hash);
  if (bcrypt) {
    const cost = Number(bcrypt[1]);
    if (cost < 4 || cost > MAX_BCRYPT_COST) {
      return `bcrypt cost ${cost} is outside 4-${MAX_BCRYPT_COST}`;
    }
    return undefined;
  }
  const argon = ARGON2ID.exec(hash);
  if (argon) {
    const [m, t] = [Number(argon[1]), Number(argon[2])];
    if (m > MAX_ARGON2_MEMORY || t > MAX_ARGON2_PASSES) {
      return `argon2id with m=${m},t=${t} costs more than one check may ` +
        `(at most m=${MAX_ARGON2_MEMORY},t=${MAX_ARGON2_PASSES})`;
    }
    return undefined;
  }
  const kind = hash.startsWith("$apr1$")
    ? "an MD5 (apr1) hash"
    : hash.startsWith("{SHA}")
    ? "a SHA-1 hash"
    : hash.startsWith("$argon2i$") || hash.startsWith("$argon2d$")
    ? "argon2i/argon2d"
    : "not a bcrypt or argon2id hash";
  return `${kind}: use bcrypt ("htpasswd -nB <name>") or argon2id`;
}

export async function basicAuthSpec(ctx: Context, raw: RawBasicAuth): Promise<BasicAuthSpec> {
  const users: { name: string; hash: string }[] = [];
  const seen = new Map<string, string>();
  const add = (line: string, where: readonly Segment[], label: string) => {
    const colon = line.indexOf(":");
    const [name, hash] = [line.slice(0, colon), line.slice(colon + 1)];
    const problem = colon <= 0
      ? `expected "name:hash"`
      : !NAME.test(name)
      ? `user name ${quote(name)} has spaces or quotes`
      : seen.has(name)
      ? `user ${quote(name)} is defined twice (also ${seen.get(name)})`
      : hashProblem(hash);
    if (problem !== undefined) {
      ctx.error(where, `${label}${problem}`);
      return;
    }
    seen.set(name, label === "" ? "inline" : label.replace(/: $/, ""));
    users.push({ name, hash });
  };
  raw.users.forEach((line, i) => add(line, ctx.path(raw, "users", i), ""));
  let usersFile: string | null = null;
  if (raw.users_file !== undefined) {
    const where = ctx.path(raw, "users_file");
    usersFile = ctx.absolute(raw.users_file);
    const text = await ctx.read(where, raw.users_file, "the users file");
    text?.split(/\r?\n/).forEach((line, i) => {
      const trimmed = line.trim();
      if (trimmed === "" || trimmed.startsWith("#")) return;
      add(trimmed, where, `${raw.users_file} line ${i + 1}: `);
    });
    if (text !== undefined && users.length === 0) {
      ctx.error(where, `${quote(raw.users_file)} holds no users`);
    }
  } else if (users.length === 0 && raw.users.length === 0) {
    ctx.error(ctx.path(raw), `list "users", or give a "users_file"`);
  }
  return {
    kind: "basic_auth",
    users,
    usersFile,
    realm: raw.realm,
    removeHeader: raw.remove_header,
    userHeader: raw.user_header ?? null,
  };
}
