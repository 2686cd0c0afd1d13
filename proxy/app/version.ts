/**
 * What `--version` prints and the start-up line names: Gatehouse's version (deno.json), the
 * commit when known ($GATEHOUSE_COMMIT, set in the image, else the checkout's .git), and the
 * Deno runtime's versions.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import denoJson from "../../deno.json" with { type: "json" };

/** Gatehouse's version, from deno.json. */
export const VERSION: string = denoJson.version;

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Reads a file if this process may (never prompts); undefined otherwise. */
function readIfAllowed(path: string): string | undefined {
  if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") return undefined;
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/** The commit `HEAD` of the git checkout at `root` names, or null (no .git, no permission). */
export function gitCommit(root = ROOT): string | null {
  let gitDir = join(root, ".git");
  const pointer = readIfAllowed(gitDir); // a worktree's .git is a file: "gitdir: PATH"
  if (pointer?.startsWith("gitdir:")) gitDir = resolve(root, pointer.slice(7).trim());
  const head = readIfAllowed(join(gitDir, "HEAD"))?.trim();
  if (head === undefined) return null;
  if (!head.startsWith("ref: ")) return /^[0-9a-f]{40}$/.test(head) ? head : null;
  const ref = head.slice(5);
  const common = resolve(gitDir, readIfAllowed(join(gitDir, "commondir"))?.trim() ?? ".");
  for (const dir of [gitDir, common]) {
    const id = readIfAllowed(join(dir, ref))?.trim();
    if (id !== undefined && /^[0-9a-f]{40}$/.test(id)) return id;
  }
  const packed = readIfAllowed(join(common, "packed-refs")) ?? "";
  const line = packed.split("\n").find((l) => l.endsWith(` ${ref}`));
  return line?.slice(0, 40) ?? null;
}

/** $GATEHOUSE_COMMIT when set and readable, else the checkout's commit, else null. */
export function commit(): string | null {
  const name = "GATEHOUSE_COMMIT";
  if (Deno.permissions.querySync({ name: "env", variable: name }).state === "granted") {
    const value = Deno.env.get(name)?.trim();
    if (value) return value;
  }
  return gitCommit();
}

/** The `--version` text: Gatehouse with its commit, then Deno, V8 and TypeScript. */
export function versionText(): string {
  const id = commit();
  return [
    `gatehouse ${VERSION}${id === null ? "" : ` (commit ${id.slice(0, 12)})`}`,
    `deno ${Deno.version.deno}`,
    `v8 ${Deno.version.v8}`,
    `typescript ${Deno.version.typescript}`,
  ].join("\n");
}
