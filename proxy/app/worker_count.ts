/**
 * How many worker isolates `workers: auto | N` means: N, or the CPU cores this process may use,
 * which is `navigator.hardwareConcurrency`: Deno takes it from Rust's `available_parallelism`,
 * which on Linux counts the CPUs of the process's affinity mask (`taskset`, a container's
 * cpuset) and honours a cgroup v2 CPU quota (`docker run --cpus`). Reading /proc/self/status
 * ourselves would need `--allow-all` (Deno guards /proc/self), which the container does not give.
 *
 * Tested by worker_count_test.ts.
 */

/** The worker count for the config's `workers` setting. */
export function workerCount(setting: "auto" | number): number {
  return setting === "auto" ? Math.max(1, navigator.hardwareConcurrency) : setting;
}
