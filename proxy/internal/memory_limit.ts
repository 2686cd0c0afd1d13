/**
 * The memory this process may use: its cgroup's limit (a container's `--memory`, Kubernetes'
 * `resources.limits.memory`, systemd's MemoryMax), else the machine's physical memory. Read
 * through the C library (libc.ts): Deno lets only --allow-all read /proc and /sys, and Deno's own
 * reader (node:process `constrainedMemory`, needing --allow-sys) misses a container's limit on
 * a cgroup v1 host, where /proc/self/cgroup names the host's path of the cgroup.
 *
 * The cgroup is found as Deno and Node find it (/proc/self/cgroup: the v1 `memory` line first,
 * else the v2 `0::` line); when its directory is not visible (a container on cgroup v1, or v2
 * without a cgroup namespace), the root of the mount is read instead, which inside a container is
 * the container's own cgroup.
 *
 * Tested by memory_limit_test.ts, in child processes placed in a memory cgroup.
 *
 * @module
 */
import { libc, readSmallFile } from "./libc.ts";

const SC_PAGESIZE = 30;
const SC_PHYS_PAGES = 85;
/** Above this a cgroup limit means "none" (v1 writes 2^63 rounded down to a page). */
const UNLIMITED = 2 ** 60;

export interface MemoryLimit {
  readonly bytes: number;
  /** A cgroup's limit (a container's, say), or the machine's memory. */
  readonly kind: "cgroup" | "physical";
  /** Where the figure came from, for the log: "cgroup v2 /sys/fs/cgroup/memory.max", say. */
  readonly source: string;
}

/**
 * The cgroup's memory limit, else the physical memory (whichever is lower), or null when the C
 * library cannot be loaded.
 */
export function memoryLimit(): MemoryLimit | null {
  const lib = libc();
  if ("reason" in lib) return null;
  const c = lib.libc;
  const pages = Number(c.sysconf(SC_PHYS_PAGES));
  const pageSize = Number(c.sysconf(SC_PAGESIZE));
  const physical = pages > 0 && pageSize > 0 ? pages * pageSize : Infinity;
  const cgroup = cgroupLimit((path) => readSmallFile(c, path));
  if (cgroup !== null && cgroup.bytes < physical) return cgroup;
  return physical === Infinity
    ? null
    : { bytes: physical, kind: "physical", source: "physical memory" };
}

/** Reads a file's text, or null when it cannot be read. */
export type ReadFile = (path: string) => string | null;

/** The limit of this process's memory cgroup, or null when it has none (or none is visible). */
export function cgroupLimit(read: ReadFile): MemoryLimit | null {
  const self = read("/proc/self/cgroup");
  if (self === null) return null;
  const group = parseSelfCgroup(self);
  if (group === null) return null;
  const [base, file] = group.version === 1
    ? ["/sys/fs/cgroup/memory", "memory.limit_in_bytes"]
    : ["/sys/fs/cgroup", "memory.max"];
  const candidates = group.path === "" ? [base] : [`${base}/${group.path}`, base];
  for (const dir of candidates) {
    const text = read(`${dir}/${file}`);
    if (text === null) continue;
    const bytes = Number(text.trim());
    // "max" (v2) or a huge number (v1): this cgroup has no limit.
    if (!Number.isFinite(bytes) || bytes <= 0 || bytes >= UNLIMITED) return null;
    return { bytes, kind: "cgroup", source: `cgroup v${group.version} ${dir}/${file}` };
  }
  return null;
}

/**
 * The memory cgroup in /proc/self/cgroup's text: the v1 `memory` controller's line if there is
 * one (hybrid hierarchies), else the v2 line; its path without the leading "/".
 */
export function parseSelfCgroup(text: string): { version: 1 | 2; path: string } | null {
  let v2: string | null = null;
  for (const line of text.split("\n")) {
    const first = line.indexOf(":");
    const second = line.indexOf(":", first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1).replace(/^\/+/, "");
    if (controllers.split(",").includes("memory")) return { version: 1, path };
    if (line.slice(0, first) === "0" && controllers === "") v2 = path;
  }
  return v2 === null ? null : { version: 2, path: v2 };
}
