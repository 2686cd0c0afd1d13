/**
 * The YAML keys of unix socket entrypoints: `socket_file` (mode and owner of the socket file),
 * put in place by schema.ts.
 *
 * Tested by resolve_unix_test.ts.
 *
 * @module
 */
import { mismatch, obj, ok, opt, scalar, type ScalarNode } from "./dsl.ts";

const MODE = /^(?:0o?)?([0-7]{3})$/;
const MODE_EXPECTED = `a file mode in octal like "0660"`;

/** A permission mode written in octal: "0660", "660", "0o660" or 660 (no setuid/sticky bits). */
export function fileMode(): ScalarNode<number> {
  return scalar({
    type: "octal mode",
    expected: MODE_EXPECTED,
    json: { type: ["string", "integer"], pattern: MODE.source },
    decode(value, source) {
      const match = typeof value === "string" || typeof value === "number"
        ? MODE.exec(source)
        : null;
      return match ? ok(parseInt(match[1], 8)) : mismatch(MODE_EXPECTED, value, source);
    },
  });
}

/** A user or group: a numeric id, or a name looked up in /etc/passwd or /etc/group at load. */
export type AccountRef = { readonly id: number } | { readonly name: string };

const ACCOUNT_NAME = /^[a-z_][a-z0-9_.-]*\$?$/i;

/** A user or group, by number or name. */
export function account(what: "user" | "group"): ScalarNode<AccountRef> {
  const expected = `a ${what} name like "www-data" or a numeric id`;
  return scalar<AccountRef>({
    type: `${what} name or id`,
    expected,
    json: {
      anyOf: [{ type: "integer", minimum: 0 }, { type: "string", pattern: ACCOUNT_NAME.source }],
    },
    decode(value, source) {
      if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) {
        return ok({ id: value });
      }
      if (typeof value === "string" && /^[0-9]+$/.test(value)) return ok({ id: Number(value) });
      if (typeof value === "string" && ACCOUNT_NAME.test(value)) return ok({ name: value });
      return mismatch(expected, value, source);
    },
  });
}

/** `socket_file` of an entrypoint listening on a unix socket. */
export const socketFile = obj({
  mode: opt(
    fileMode(),
    "Permissions of the socket file; connecting needs write permission",
    "as the umask leaves them",
  ),
  owner: opt(account("user"), "Owner of the socket file (needs root)", "the process's user"),
  group: opt(
    account("group"),
    "Group of the socket file (root, or a group the process's user is in)",
    "the process's group",
  ),
}, "socket file");
