/**
 * What a scenario is, and the one way every tool-driven scenario measures: a warm-up run of the
 * load generator (discarded), then the measured run with the proxy's CPU time read from /proc
 * before and after it.
 *
 * @module
 */
import { join } from "node:path";
import type { Layout } from "../lib/layout.ts";
import { cpuTicks, rssKiB, type Supervisor, type ToolOutput } from "../lib/procs.ts";
import type { MetricSpec, Sample } from "../lib/stats.ts";
import { type Capability, type Target, type TargetName, targetPids } from "../lib/targets.ts";
import { ROOT } from "../lib/layout.ts";

/** How long and how much each measurement runs. */
export interface Timing {
  /** Measured phase of time-bound scenarios. */
  seconds: number;
  /** Warm-up before each measured phase. */
  warmup: number;
  /** Bytes of one TCP throughput transfer. */
  tcpBytes: number;
  /** Idle TLS connections of the memory scenario. */
  idleConnections: number;
  /** Seconds after a measured run ends when the proxy's RSS is read again (--rss-after). */
  rssAfter: number;
}

/** What a scenario gets to run with. */
export interface ScenarioContext {
  layout: Layout;
  sup: Supervisor;
  timing: Timing;
  clockTicks: number;
}

/** A measurement of one target, before the runner stamps the round on it. */
export type Measurement = Omit<Sample, "round">;

/** One benchmark scenario. */
export interface Scenario {
  id: string;
  title: string;
  /** How it is measured, for README.md and RESULTS.md. */
  method: string;
  /** The socket it needs; targets without it are n/a. */
  needs: Capability;
  /** A second capability it needs (e.g. "br"). */
  alsoNeeds?: Capability;
  targets: readonly TargetName[];
  /** Metrics it reports, the primary one first. */
  metrics: MetricSpec[];
  /** What the proxy's CPU time is divided by ("req", "msg", "MB", ...); none: no CPU column. */
  operation?: string;
  run(ctx: ScenarioContext, target: Target): Promise<Measurement>;
}

/** What a tool's output says, as the scenario reads it. */
export interface ToolReading {
  values: Record<string, number>;
  /** Operations of the measured phase (the CPU divisor). */
  operations: number;
  seconds: number;
  errors: number;
  note?: string;
}

/** Every target except the logging variant of Gatehouse. */
export const MAIN_TARGETS: readonly TargetName[] = [
  "direct",
  "gatehouse",
  "nginx",
  "haproxy",
  "caddy",
];

/** A rate (the primary metric, higher is better) and the p99 latency. */
export function rateMetrics(key: string, label: string, p99Label = "p99 ms"): MetricSpec[] {
  return [
    { key, label, better: "higher", digits: 0 },
    { key: "p99_ms", label: p99Label, better: "lower", digits: 2 },
  ];
}

/** Metric keys the runner adds for targets with a process of their own. */
export const CPU_METRICS: MetricSpec[] = [
  { key: "cpu_us", label: "proxy CPU µs/op", better: "lower", digits: 1 },
  { key: "core_pct", label: "proxy core %", better: "lower", digits: 0 },
  { key: "rss_before_mib", label: "proxy RSS before MiB", better: "lower", digits: 1 },
  { key: "rss_peak_mib", label: "proxy peak RSS MiB", better: "lower", digits: 1 },
  { key: "rss_after_mib", label: "proxy RSS after MiB", better: "lower", digits: 1 },
];

/** Interval of the RSS samples taken during a measured run. */
const RSS_SAMPLE_MS = 100;

/**
 * Runs `warmup` (if any) and then `argv` on the load CPUs, reads the target's CPU time around
 * the measured run and samples its RSS during it (and `timing.rssAfter` seconds after it), and
 * turns the output into a measurement with `read`.
 */
export async function measureTool(
  ctx: ScenarioContext,
  target: Target,
  runs: { warmup?: string[]; argv: string[] },
  read: (out: ToolOutput) => ToolReading,
): Promise<Measurement> {
  const cpus = ctx.layout.pinning.load;
  if (runs.warmup) checkExit(await ctx.sup.run(runs.warmup, cpus), runs.warmup);
  const pids = await targetPids(target);
  const rssBefore = await rssKiB(pids);
  let rssPeak = rssBefore;
  let running = true;
  const sampler = (async () => {
    while (running && pids.length > 0) {
      rssPeak = Math.max(rssPeak, await rssKiB(pids));
      await new Promise((resolve) => setTimeout(resolve, RSS_SAMPLE_MS));
    }
  })();
  const before = await cpuTicks(pids);
  const out = await ctx.sup.run(runs.argv, cpus).finally(() => running = false);
  const after = await cpuTicks(pids);
  await sampler;
  checkExit(out, runs.argv);
  const reading = read(out);
  const values = { ...reading.values };
  if (pids.length > 0 && reading.operations > 0) {
    const cpuSeconds = (after - before) / ctx.clockTicks;
    values.cpu_us = (cpuSeconds * 1e6) / reading.operations;
    values.core_pct = (cpuSeconds / reading.seconds) * 100;
    if (ctx.timing.rssAfter > 0) {
      await new Promise((resolve) => setTimeout(resolve, ctx.timing.rssAfter * 1000));
    }
    values.rss_before_mib = rssBefore / 1024;
    values.rss_peak_mib = Math.max(rssPeak, await rssKiB(pids)) / 1024;
    values.rss_after_mib = (await rssKiB(pids)) / 1024;
  }
  return {
    values,
    errors: reading.errors,
    operations: reading.operations,
    command: runs.argv.join(" "),
    note: reading.note,
  };
}

function checkExit(out: ToolOutput, argv: string[]): void {
  if (out.code === 0) return;
  const lines = (out.stderr.trim() || out.stdout.trim()).split("\n");
  const said = lines.find((l) => l.startsWith("error: ")) ?? lines.slice(-3).join(" | ");
  const tool = argv[0] === Deno.execPath() ? argv.find((a) => a.endsWith(".ts")) : argv[0];
  throw new Error(`${tool} exited with ${out.code}: ${said}`);
}

/** `deno run` of one of the bench's load generators in bench/clients/. */
export function denoClient(name: string, args: Record<string, string | number>): string[] {
  const flags = Object.entries(args).flatMap(([k, v]) => [`--${k}`, String(v)]);
  return [
    Deno.execPath(),
    "run",
    "--unstable-net",
    "--allow-net",
    "--allow-read",
    join(ROOT, "bench/clients", name),
    ...flags,
  ];
}
