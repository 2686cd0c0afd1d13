/**
 * A memory cgroup of its own for a child process, as a container's `--memory` gives one: cgroup
 * v1 (`/sys/fs/cgroup/memory/...`) or v2 (`/sys/fs/cgroup/...`, with the memory controller on
 * in the root's subtree). Needs root and a writable cgroup file system, which CI has.
 *
 * @module
 */

const V1 = "/sys/fs/cgroup/memory";
const V2 = "/sys/fs/cgroup";

export interface MemoryCgroup extends AsyncDisposable {
  /** The cgroup's directory; a process joins by writing its pid to `${dir}/cgroup.procs`. */
  readonly dir: string;
  /** Times the kernel's OOM killer ended a process in it. */
  oomKills(): Promise<number>;
  /** The most memory it was charged at once, in bytes (its use now where the kernel keeps no peak). */
  peak(): Promise<number>;
}

/** A file's text, or null when it cannot be read. */
function readable(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

/** Which cgroup version this machine lets a test create memory cgroups in, or null. */
export function memoryCgroupVersion(): 1 | 2 | null {
  if (Deno.build.os !== "linux" || Deno.uid() !== 0) return null;
  if (readable(`${V1}/memory.limit_in_bytes`) !== null) return 1;
  const controllers = readable(`${V2}/cgroup.subtree_control`);
  return controllers?.split(/\s+/).includes("memory") ? 2 : null;
}

/** Creates a memory cgroup limited to `bytes`; removed on dispose (its processes must be gone). */
export async function memoryCgroup(bytes: number): Promise<MemoryCgroup> {
  const version = memoryCgroupVersion();
  if (version === null) throw new Error("Cannot create a memory cgroup here (needs root)");
  const dir = `${version === 1 ? V1 : V2}/gatehouse-test-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(dir);
  await Deno.writeTextFile(
    `${dir}/${version === 1 ? "memory.limit_in_bytes" : "memory.max"}`,
    String(bytes),
  );
  return {
    dir,
    async oomKills() {
      const text = await Deno.readTextFile(
        `${dir}/${version === 1 ? "memory.oom_control" : "memory.events"}`,
      );
      return Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0);
    },
    async peak() {
      const files = version === 1
        ? ["memory.max_usage_in_bytes"]
        : ["memory.peak", "memory.current"];
      for (const file of files) {
        const text = await Deno.readTextFile(`${dir}/${file}`).catch(() => null);
        if (text !== null) return Number(text.trim());
      }
      throw new Error(`Cannot read the memory use of ${dir}`);
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir);
    },
  };
}
