/**
 * Unix socket rules of the config: Deno checks read and write permission on a socket path for
 * both listening and connecting, so a path the process may not use is refused at load time
 * (with the flag to add) instead of failing on the first request.
 *
 * Tested by resolve_unix_test.ts.
 *
 * @module
 */
import type { Context } from "./context.ts";
import { quote, type Segment } from "./errors.ts";

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
