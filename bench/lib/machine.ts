/**
 * The machine the numbers come from, for RESULTS.md: CPU, cores, memory, kernel, load.
 *
 * @module
 */
import { command } from "./tools.ts";

/** Facts about the machine. */
export interface Machine {
  cpu: string;
  cores: number;
  memory: string;
  kernel: string;
  hypervisor: string;
  /** Clock ticks per second of /proc/<pid>/stat CPU times. */
  clockTicks: number;
}

/** Reads the machine's description from /proc and a few commands. */
export async function describeMachine(): Promise<Machine> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo");
  const meminfo = await Deno.readTextFile("/proc/meminfo");
  const cpu = cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1] ?? "unknown";
  const memKiB = Number(meminfo.match(/^MemTotal:\s+(\d+)/m)?.[1] ?? 0);
  const lscpu = (await command(["lscpu"])).text;
  const hypervisor = lscpu.match(/^Hypervisor vendor:\s*(.+)$/m)?.[1]?.trim() ?? "none reported";
  const ticks = Number((await command(["getconf", "CLK_TCK"])).text.trim()) || 100;
  return {
    cpu,
    cores: navigator.hardwareConcurrency,
    memory: `${(memKiB / 1024 / 1024).toFixed(1)} GiB`,
    kernel: `${Deno.osRelease()} (${Deno.build.target})`,
    hypervisor,
    clockTicks: ticks,
  };
}

/** The first three fields of /proc/loadavg: "1.02 0.85 0.60". */
export async function loadAverage(): Promise<string> {
  const text = await Deno.readTextFile("/proc/loadavg");
  return text.split(" ").slice(0, 3).join(" ");
}
