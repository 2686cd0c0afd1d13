/**
 * `deno task bench [-- options]`: Gatehouse side by side with nginx, HAProxy and Caddy.
 * See bench/README.md for what it runs and how to read the results.
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type Layout, OUT, pinning, ROOT, upstreamPorts, type Workers } from "./lib/layout.ts";
import { prepareFiles } from "./lib/files.ts";
import { describeMachine, loadAverage } from "./lib/machine.ts";
import { stopLeftovers, Supervisor } from "./lib/procs.ts";
import { resultsMarkdown, type RunRecord, tables } from "./lib/record.ts";
import { num } from "./lib/report.ts";
import { runRounds } from "./lib/runner.ts";
import {
  probeGatehouse,
  startProxy,
  startUpstreams,
  type Target,
  TARGET_NAMES,
  type TargetName,
} from "./lib/targets.ts";
import { ensureTools } from "./lib/tools.ts";
import { preflight } from "./lib/preflight.ts";
import { SCENARIOS, type Timing } from "./scenarios/mod.ts";

const USAGE = `Usage: deno task bench [-- OPTIONS]

  --quick            one round, 2 s per measurement (also BENCH_QUICK=1); writes
                     bench/out/RESULTS-quick.md instead of bench/RESULTS.md
  --rounds N         interleaved rounds (default 3)
  --seconds N        measured seconds per measurement (default 5)
  --warmup N         warm-up seconds before each measurement (default 1)
  --only IDS         comma-separated scenario ids (default: all): ${
  SCENARIOS.map((s) => s.id).join(",")
}
  --targets NAMES    comma-separated targets (default: all): ${TARGET_NAMES.join(",")}
  --tcp-mib N        MiB per TCP throughput transfer (default 1024; quick 256)
  --idle-conns N     idle TLS connections of the memory scenario (default 2000)
  --rss-after N      seconds after each measured run when the proxy's RSS is read again
                     (default 0: right after; 60 for "a minute after the load ends")
  --unpinned         do not pin processes to CPUs
  --out-of-the-box   nothing pinned, each proxy at its default worker count (nginx
                     worker_processes auto, HAProxy's default threads, Caddy's default
                     GOMAXPROCS, Gatehouse workers: auto); writes
                     bench/RESULTS-out-of-the-box.md (quick: bench/out/RESULTS-out-of-the-box-quick.md)
  --workers N|auto   workers of every proxy (with --out-of-the-box; for the scaling runs)
  --no-install       fail instead of installing missing Debian packages
  --results FILE     where to write the results document
`;

function options() {
  const { values } = parseArgs({
    args: Deno.args.filter((a) => a !== "--"),
    options: {
      quick: { type: "boolean" },
      rounds: { type: "string" },
      seconds: { type: "string" },
      warmup: { type: "string" },
      only: { type: "string" },
      targets: { type: "string" },
      "tcp-mib": { type: "string" },
      "idle-conns": { type: "string" },
      "rss-after": { type: "string" },
      unpinned: { type: "boolean" },
      "out-of-the-box": { type: "boolean" },
      workers: { type: "string" },
      "no-install": { type: "boolean" },
      results: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const quick = values.quick ?? ["1", "true"].includes(Deno.env.get("BENCH_QUICK") ?? "");
  const integer = (name: string, text: string | undefined, fallback: number) => {
    const value = text === undefined ? fallback : Number(text);
    if (!Number.isInteger(value) || value < 0) {
      throw new Error(`Cannot run: --${name} must be a whole number, got "${text}"`);
    }
    return value;
  };
  const list = <T extends string>(name: string, text: string | undefined, all: readonly T[]) => {
    if (text === undefined) return [...all];
    const picked = text.split(",").map((s) => s.trim()) as T[];
    const unknown = picked.filter((p) => !all.includes(p));
    if (unknown.length > 0) {
      throw new Error(
        `Cannot run: unknown --${name} "${unknown.join(",")}"; known: ${all.join(",")}`,
      );
    }
    return picked;
  };
  const timing: Timing = {
    seconds: Math.max(1, integer("seconds", values.seconds, quick ? 2 : 5)),
    warmup: integer("warmup", values.warmup, 1),
    tcpBytes: integer("tcp-mib", values["tcp-mib"], quick ? 256 : 1024) * 2 ** 20,
    idleConnections: Math.max(1, integer("idle-conns", values["idle-conns"], 2000)),
    rssAfter: integer("rss-after", values["rss-after"], 0),
  };
  const ids = list("only", values.only, SCENARIOS.map((s) => s.id));
  const ootb = values["out-of-the-box"] ?? false;
  if (values.workers !== undefined && !ootb) {
    throw new Error("Cannot run: --workers needs --out-of-the-box (pinned runs use one worker)");
  }
  const workers: Workers = values.workers === undefined || values.workers === "auto"
    ? (ootb ? "auto" : 1)
    : Math.max(1, integer("workers", values.workers, 1));
  const resultsName = ootb ? "RESULTS-out-of-the-box" : "RESULTS";
  return {
    quick,
    timing,
    rounds: Math.max(1, integer("rounds", values.rounds, quick ? 1 : 3)),
    scenarios: SCENARIOS.filter((s) => ids.includes(s.id)),
    targets: list("targets", values.targets, TARGET_NAMES),
    pinned: !values.unpinned && !ootb,
    workers,
    install: !values["no-install"],
    results: values.results ??
      (quick ? join(OUT, `${resultsName}-quick.md`) : join(ROOT, "bench", `${resultsName}.md`)),
  };
}

function progressLine(round: string, scenarioId: string, target: string, text: string) {
  console.error(`${round} ${scenarioId.padEnd(9)} ${target.padEnd(15)} ${text}`);
}

async function main(): Promise<void> {
  const opt = options();
  const started = new Date();
  const sup = new Supervisor(join(OUT, "pids.json"));
  await Deno.mkdir(OUT, { recursive: true });
  for (const leftover of await stopLeftovers(join(OUT, "pids.json"))) {
    console.error(`Stopped a previous run's process: ${leftover}`);
  }
  const interrupted = new AbortController();
  const stop = async (signal: string) => {
    console.error(`\n${signal}: stopping every process the bench started; no results written`);
    interrupted.abort(new Error(`Interrupted by ${signal}`));
    await sup.stopAll();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", () => void stop("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => void stop("SIGTERM"));

  const tools = await ensureTools(opt.install);
  const machine = await describeMachine();
  const loadBefore = await loadAverage();
  console.error(
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memory}, ` +
      `kernel ${machine.kernel}; load average ${loadBefore}`,
  );
  for (const [name, version] of Object.entries(tools.versions)) {
    console.error(`  ${name.padEnd(20)} ${version}`);
  }
  for (const name of tools.missingOptional) console.error(`  ${name.padEnd(20)} not installed`);
  const layout: Layout = {
    files: await prepareFiles(),
    upstreams: upstreamPorts(),
    pinning: pinning(opt.pinned, machine.cores),
    workers: opt.workers,
  };
  console.error(
    layout.pinning.pinned
      ? `Pinning: proxies on CPU ${layout.pinning.proxy}; load generators and upstreams on CPU ` +
        `${layout.pinning.load}`
      : `Pinning: none; workers: ${opt.workers}`,
  );

  try {
    const targets = new Map<TargetName, Target>();
    const direct = await startUpstreams(layout, sup);
    if (opt.targets.includes("direct")) targets.set("direct", direct);
    const features = await probeGatehouse(layout);
    for (const [feature, gap] of features) {
      console.error(`Gatehouse ${feature}: ${gap === null ? "supported" : `n/a, ${gap}`}`);
    }
    const brotli = !tools.missingOptional.has("nginx brotli module");
    for (const name of opt.targets) {
      if (name === "direct") continue;
      targets.set(name, await startProxy(name, layout, sup, brotli, features));
    }
    for (const target of targets.values()) await preflight(layout, sup, target);
    const perRound = opt.scenarios.reduce(
      (n, sc) => n + sc.targets.filter((t) => targets.has(t)).length,
      0,
    );
    const each = opt.timing.warmup + opt.timing.seconds + opt.timing.rssAfter + 1.5;
    const minutes = (perRound * opt.rounds * each) / 60;
    console.error(
      `All targets answer; ${opt.rounds} round(s) of ${opt.scenarios.length} scenarios, ` +
        `${perRound} measurements each: about ${Math.ceil(minutes)} minutes`,
    );

    const ctx = { layout, sup, timing: opt.timing, clockTicks: machine.clockTicks };
    const roundLoads: string[] = [];
    const results = await runRounds(opt.scenarios, targets, ctx, opt.rounds, {
      async round(r) {
        roundLoads.push(await loadAverage());
        console.error(`Round ${r} of ${opt.rounds}, load average ${roundLoads.at(-1)}`);
      },
      sample(s, t, r, sample) {
        const round = `[${r}/${opt.rounds}]`;
        if (sample instanceof Error) {
          progressLine(round, s.id, t.name, `FAILED: ${sample.message}`);
          return;
        }
        const shown = s.metrics.map((m) => `${m.label} ${num(sample.values[m.key], m.digits)}`);
        if (sample.values.cpu_us !== undefined) {
          shown.push(`CPU ${num(sample.values.cpu_us, 1)} µs/${s.operation}`);
          shown.push(`core ${num(sample.values.core_pct, 0)}%`);
        }
        if (sample.errors > 0) shown.push(`errors ${sample.errors}`);
        progressLine(round, s.id, t.name, shown.join("  "));
      },
    }, interrupted.signal);

    const record: RunRecord = {
      started,
      finished: new Date(),
      quick: opt.quick,
      rounds: opt.rounds,
      timing: opt.timing,
      argv: Deno.args.filter((a) => a !== "--"),
      machine,
      loadBefore,
      roundLoads,
      loadAfter: await loadAverage(),
      pinning: layout.pinning,
      workers: layout.workers,
      versions: tools.versions,
      targets: [...targets.values()],
      scenarios: opt.scenarios,
      results,
    };
    console.log(tables(record));
    await Deno.writeTextFile(opt.results, await resultsMarkdown(record));
    const raw = Object.fromEntries(
      [...results].map(([id, cells]) => [id, Object.fromEntries(cells)]),
    );
    await Deno.writeTextFile(join(OUT, "results.json"), JSON.stringify(raw, null, 1));
    console.error(`Load average before ${loadBefore}, after ${record.loadAfter}`);
    console.error(`Wrote ${opt.results} and ${join(OUT, "results.json")}`);
  } finally {
    await sup.stopAll();
  }
}

try {
  await main();
} catch (error) {
  console.error((error as Error).message);
  Deno.exit(1);
}
