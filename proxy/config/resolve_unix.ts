/**
 * Unix socket rules of the config: entrypoints listening on a socket file (its path, mode and
 * owner), and the permissions Deno needs. Deno checks read and write permission on a socket path
 * for both listening and connecting, so a path the process may not use is refused at load time
 * (with the flag to add) instead of failing on the first request or at bind.
 *
 * Tested by resolve_unix_test.ts and upstream/unix_servers_test.ts.
 *
 * @module
 */
import type { Context } from "./context.ts";
import { quote, type Segment } from "./errors.ts";
import { socketPathProblem } from "./net_values.ts";
import type { RawConfig, RawEntrypoint } from "./schema.ts";
import type { AccountRef } from "./schema_unix.ts";
import type { UnixSocketFile } from "./types.ts";

/** What `path` still needs from Deno's permissions, as flags ("" when it has them all). */
export function missingSocketPermissions(path: string): string {
  const missing: string[] = [];
  for (const name of ["read", "write"] as const) {
    if (Deno.permissions.querySync({ name, path }).state !== "granted") {
      missing.push(`--allow-${name}=${path}`);
    }
  }
  return missing.join(" ");
}

/** Records an error at `at` when the process may not use the socket at `path`. */
export function checkSocketPermissions(
  ctx: Context,
  at: readonly Segment[],
  path: string,
  use: "connect to" | "listen on",
): void {
  const missing = missingSocketPermissions(path);
  if (missing === "") return;
  ctx.error(
    at,
    `Cannot ${use} unix socket ${quote(path)}: Deno needs read and write permission for a ` +
      `socket path; run with ${missing} (or a directory that holds it)`,
  );
}

/** The unix socket of an entrypoint (null for a TCP address), with its file's settings checked. */
export function entrypointUnix(ctx: Context, e: RawEntrypoint): UnixSocketFile | null {
  const path = ctx.path(e);
  if (!("unix" in e.address)) {
    if (e.socket_file) {
      ctx.error(
        [...path, "socket_file"],
        `"socket_file" is for unix socket addresses ("unix:/path")`,
        "key",
      );
    }
    return null;
  }
  const socket = ctx.absolute(e.address.unix);
  const problem = socketPathProblem(socket);
  if (problem !== undefined) ctx.error([...path, "address"], problem);
  else checkSocketPermissions(ctx, [...path, "address"], socket, "listen on");
  if (e.proxy_protocol && e.protocol === "tcp") {
    ctx.error(
      [...path, "proxy_protocol"],
      `"proxy_protocol" needs client addresses to trust: a unix socket's clients have none`,
      "key",
    );
  }
  const file = e.socket_file;
  return {
    path: socket,
    mode: file?.mode ?? null,
    uid: file?.owner ? accountId(ctx, ctx.path(file, "owner"), file.owner, "user") : null,
    gid: file?.group ? accountId(ctx, ctx.path(file, "group"), file.group, "group") : null,
  };
}

/** Two entrypoints on one socket path cannot both listen. */
export function socketConflicts(ctx: Context, raw: RawConfig): void {
  const seen = new Map<string, string>();
  for (const [name, e] of raw.entrypoints) {
    if (!("unix" in e.address)) continue;
    const socket = ctx.absolute(e.address.unix);
    const other = seen.get(socket);
    if (other !== undefined) {
      ctx.error(
        ctx.path(e, "address"),
        `unix socket ${quote(socket)} is already used by entrypoint ${quote(other)}`,
      );
    } else seen.set(socket, name);
  }
}

/** The numeric id of a user or group, looked up by name in /etc/passwd or /etc/group. */
function accountId(
  ctx: Context,
  at: readonly Segment[],
  ref: AccountRef,
  kind: "user" | "group",
): number | null {
  if ("id" in ref) return ref.id;
  const file = kind === "user" ? "/etc/passwd" : "/etc/group";
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (err) {
    ctx.error(at, `Cannot look up ${kind} ${quote(ref.name)}: ${file}: ${(err as Error).message}`);
    return null;
  }
  for (const line of text.split("\n")) {
    const [name, , id] = line.split(":");
    if (name === ref.name && /^[0-9]+$/.test(id ?? "")) return Number(id);
  }
  ctx.error(at, `unknown ${kind} ${quote(ref.name)} (not in ${file}); give a numeric id instead`);
  return null;
}
