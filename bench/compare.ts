/**
 * `deno task bench:compare -- --base REV`: Gatehouse's CPU per request, this tree against REV, side
 * by side: both pinned to the same core and loaded at the same time, each by its own load
 * generator, so that the VM's drift (up to 2x between runs of the same code here) hits both.
 *
 * A pair of processes keeps its ratio for its whole life (as if each JIT settled into a layout of
 * its own): rounds of one pair agree within ~1% while pairs of the same two trees differ by up to
 * 5% (docs/runtime.md, question 4). So the comparison runs several pairs, half of them with the
 * two trees in swapped slots (ports, start order), and reports each pair's median and the median
 * over pairs. REV is checked out in a temporary git worktree, removed at the end.
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { V8_FLAGS_ARG } from "../proxy/internal/v8_flags.ts";
import { gatehouseConfig } from "./configs/gatehouse.ts";
import { upstreamNginxConfig } from "./configs/upstream.ts";
import { prepareFiles } from "./lib/files.ts";
import {
  type Layout,
  OUT,
  pinning,
  type ProxyPorts,
  proxyPorts,
  ROOT,
  upstreamPorts,
} from "./lib/layout.ts";
import { describeMachine } from "./lib/machine.ts";
import { waitForPort } from "./lib/net.ts";
import { parseH2load } from "./lib/parse.ts";
import { cpuTicks, type Spawned, stopLeftovers, Supervisor } from "./lib/procs.ts";
import { median } from "./lib/stats.ts";
import { readWrk, wrkArgv } from "./scenarios/http.ts";

const USAGE = `Usage: deno task bench:compare -- --base REV [OPTIONS]

  --base REV        the git revision to compare this working tree against (required)
  --modes LIST      h1 (wrk -c50, plain), h2 (h2load -c50 -m10, TLS); default h1,h2
  --pairs N         process pairs per mode, half in swapped slots (default 4)
  --rounds N        measurements per pair (default 3)
  --seconds N       seconds per measurement (default 5)
  --warmup N        seconds of load before a pair's first measurement (default 2)

Prints, per mode, "this tree / base" CPU per request for each pair and the median over pairs
(below 1: this tree is cheaper). Differences under ~3% are noise on this VM.`;

type Mode = "h1" | "h2";
type Slot = { name: "base" | "this"; ports: ProxyPorts; proc: Spawned };

function options() {
  const { values } = parseArgs({
    args: Deno.args.filter((a) => a !== "--"),
    options: {
      base: { type: "string" },
      modes: { type: "string", default: "h1,h2" },
      pairs: { type: "string", default: "4" },
      rounds: { type: "string", default: "3" },
      seconds: { type: "string", default: "5" },
      warmup: { type: "string", default: "2" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help || values.base === undefined) {
    console.log(USAGE);
    Deno.exit(values.help ? 0 : 2);
  }
  const modes = values.modes.split(",") as Mode[];
  for (const m of modes) {
    if (m !== "h1" && m !== "h2") throw new Error(`--modes: unknown mode "${m}" (h1, h2)`);
  }
  const int = (v: string, name: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
    return n;
  };
  return {
    base: values.base,
    modes,
    pairs: int(values.pairs, "pairs"),
    rounds: int(values.rounds, "rounds"),
    seconds: int(values.seconds, "seconds"),
    warmup: int(values.warmup, "warmup"),
  };
}

async function git(args: string[]): Promise<string> {
  const out = await new Deno.Command("git", { args, cwd: ROOT, stderr: "piped" }).output();
  const text = new TextDecoder();
  if (!out.success) throw new Error(`git ${args.join(" ")}: ${text.decode(out.stderr).trim()}`);
  return text.decode(out.stdout).trim();
}

/** The files and upstream ports a pair runs with (bench/out/, as `deno task bench` uses). */
async function prepareLayout(): Promise<Layout> {
  const files = await prepareFiles();
  const cores = navigator.hardwareConcurrency;
  return { files, upstreams: upstreamPorts(), pinning: pinning(true, cores), workers: 1 };
}

async function startGatehouse(
  sup: Supervisor,
  layout: Layout,
  name: Slot["name"],
  root: string,
): Promise<Slot> {
  const ports = proxyPorts();
  const config = join(OUT, `compare-${name}.yaml`);
  await Deno.writeTextFile(config, gatehouseConfig(layout, ports, { full: false }, new Set()));
  const argv = [Deno.execPath(), "run", "-A", V8_FLAGS_ARG, join(root, "proxy/main.ts")];
  const proc = sup.spawn(`gatehouse (${name})`, [...argv, "--config", config], {
    cpus: layout.pinning.proxy,
    log: join(layout.files.logs, `compare-${name}.log`),
    env: { DENO_TOKIO_MAX_IO_EVENTS_PER_TICK: "32", DENO_NO_UPDATE_CHECK: "1" },
    cwd: root,
  });
  await Promise.all([waitForPort(ports.http, proc), waitForPort(ports.https, proc)]);
  return { name, ports, proc };
}

/** Runs the load of `mode` against `slot` for `seconds`; the requests it completed. */
async function load(
  sup: Supervisor,
  layout: Layout,
  mode: Mode,
  slot: Slot,
  seconds: number,
): Promise<number> {
  const cpus = layout.pinning.load;
  if (mode === "h1") {
    const out = await sup.run(wrkArgv(`http://127.0.0.1:${slot.ports.http}/`, 50, seconds), cpus);
    const reading = readWrk(out.stdout);
    if (reading.errors > 0) throw new Error(`wrk against ${slot.name}: ${reading.note}`);
    return reading.operations;
  }
  const url = `https://localhost:${slot.ports.https}/`;
  const out = await sup.run(["h2load", "-t1", "-c50", "-m10", "-D", String(seconds), url], cpus);
  const r = parseH2load(out.stdout);
  if (r.failed + r.errored + r.timeout > 0) {
    throw new Error(
      `h2load against ${slot.name}: ${r.failed} failed, ${r.errored} errored, ${r.timeout} timed out`,
    );
  }
  return r.succeeded;
}

/** CPU per request of both slots, measured over the same `seconds`. */
async function measure(
  sup: Supervisor,
  layout: Layout,
  mode: Mode,
  slots: readonly Slot[],
  seconds: number,
  clockTicks: number,
): Promise<number[]> {
  const before = await Promise.all(slots.map((s) => cpuTicks([s.proc.pid])));
  const done = await Promise.all(slots.map((s) => load(sup, layout, mode, s, seconds)));
  const after = await Promise.all(slots.map((s) => cpuTicks([s.proc.pid])));
  return slots.map((_, i) => (after[i] - before[i]) / clockTicks * 1e6 / done[i]);
}

async function main(): Promise<void> {
  const opts = options();
  const rev = await git(["rev-parse", "--short", opts.base]);
  const pidFile = join(OUT, "compare-pids.json");
  await Deno.mkdir(OUT, { recursive: true });
  await stopLeftovers(pidFile);
  const worktree = await Deno.makeTempDir({ prefix: "gatehouse-base-" });
  await git(["worktree", "add", "--detach", worktree, rev]);
  await Deno.symlink(join(ROOT, "node_modules"), join(worktree, "node_modules"));
  const sup = new Supervisor(pidFile);
  try {
    const layout = await prepareLayout();
    const { clockTicks } = await describeMachine();
    const upstreamConf = join(OUT, "upstream-nginx.conf");
    await Deno.writeTextFile(upstreamConf, upstreamNginxConfig(layout));
    const nginx = sup.spawn("upstream nginx", ["nginx", "-c", upstreamConf], {
      cpus: layout.pinning.load,
      log: join(layout.files.logs, "compare-upstream.log"),
    });
    await waitForPort(layout.upstreams.http, nginx);
    console.log(`CPU per request, this tree / ${rev} (pinned to CPU ${layout.pinning.proxy})`);
    for (const mode of opts.modes) {
      const ratios: number[] = [];
      for (let pair = 0; pair < opts.pairs; pair++) {
        const swapped = pair % 2 === 1;
        const order: [Slot["name"], string][] = [["base", worktree], ["this", ROOT]];
        if (swapped) order.reverse();
        const slots: Slot[] = [];
        for (const [name, root] of order) slots.push(await startGatehouse(sup, layout, name, root));
        await measure(sup, layout, mode, slots, opts.warmup, clockTicks);
        const pairRatios: number[] = [];
        const costs: string[] = [];
        for (let round = 0; round < opts.rounds; round++) {
          const us = await measure(sup, layout, mode, slots, opts.seconds, clockTicks);
          const mine = us[slots.findIndex((s) => s.name === "this")];
          const base = us[slots.findIndex((s) => s.name === "base")];
          pairRatios.push(mine / base);
          costs.push(`${mine.toFixed(1)}/${base.toFixed(1)}`);
        }
        const m = median(pairRatios);
        ratios.push(m);
        console.log(
          `${mode} pair ${pair + 1}${swapped ? " (swapped)" : ""}: ${m.toFixed(3)} ` +
            `(rounds ${pairRatios.map((r) => r.toFixed(3)).join(" ")}; µs ${costs.join(" ")})`,
        );
        for (const slot of slots) await sup.stop(slot.proc);
      }
      console.log(`${mode}: median over ${ratios.length} pairs ${median(ratios).toFixed(3)}`);
    }
  } finally {
    await sup.stopAll();
    await git(["worktree", "remove", "--force", worktree]);
  }
}

if (import.meta.main) await main();
