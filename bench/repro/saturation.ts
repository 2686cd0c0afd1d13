/**
 * Driver for the saturation-stall experiments (docs/runtime.md, question 1): runs wrk -t1
 * against saturation_server.ts in several variants, interleaved, for a few rounds, and prints
 * wrk's req/s, p50, p99 and max with the server's own fairness figure (p99/mean of the time
 * between two requests of one connection; about 1-3 is fair, 5-10 means some connections are
 * served over and over while others wait).
 *
 *   deno run -A bench/repro/saturation.ts [--conns 150,500] [--rounds 2] [--seconds 8]
 *     [--variants raw,raw+ev64,serve,node]
 *
 * A variant is a server mode (raw, serve, node, workers:N) with optional `+evN` (environment
 * variable DENO_TOKIO_MAX_IO_EVENTS_PER_TICK=N for the server process) or `+wevN` (the main
 * isolate sets it for its workers only, see saturation_server.ts). `gatehouse:N` is Gatehouse
 * itself (proxy/main.ts, `workers: N`, no access log) in front of a `serve` upstream on the next
 * port; with N > 1 its main isolate sets 32 events per tick for the workers unless `+evN` sets
 * another value for the whole process (`+ev1024` is tokio's default).
 *
 * Result (2026-12-06, shared 2-core box, load average ~5, `--conns 500 --rounds 4 --seconds 6
 * --variants raw,raw+ev64,raw+ev32,raw+ev16`): raw p99 144-428 ms, gap p99/mean 5.3-20.9;
 * events 64: 46-77 ms, 1.8-2.6; events 32: 38-67 ms, 1.8-2.5; same CPU per request. Deno.serve at
 * -c500 76-82 ms. Details and the other runs: docs/runtime.md, section 1.
 *
 * @module
 */
import { flags, range, startServer, table, wrk } from "./common.ts";

const opt = flags({
  conns: "150,500",
  rounds: "2",
  seconds: "8",
  variants: "raw,raw+ev64,serve,node",
  port: "21021",
});
const port = Number(opt.port);
const server = new URL("./saturation_server.ts", import.meta.url).pathname;

/** CPU seconds (user + system, all threads) a process used so far. */
function cpuSeconds(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks
}

interface Row {
  cpu: number[];
  rps: number[];
  p50: number[];
  p99: number[];
  max: number[];
  fairness: number[];
}
const rows = new Map<string, Row>();

function fairnessOf(stderr: string): number[] {
  const values = [...stderr.matchAll(/p99\/mean ([\d.]+)/g)].map((m) => Number(m[1]));
  return values.slice(1); // the first window holds the ramp-up
}

for (let round = 1; round <= Number(opt.rounds); round++) {
  for (const conns of opt.conns.split(",").map(Number)) {
    for (const variant of opt.variants.split(",")) {
      const [mode, ...extras] = variant.split("+");
      const env: Record<string, string> = {};
      for (const extra of extras) {
        if (extra.startsWith("ev")) env.DENO_TOKIO_MAX_IO_EVENTS_PER_TICK = extra.slice(2);
        if (extra.startsWith("wev")) env.WORKER_MAX_IO_EVENTS = extra.slice(3);
      }
      const upstream = mode.startsWith("gatehouse:")
        ? await startServer(["deno", "run", "-A", server, String(port + 1), "serve"], port + 1)
        : null;
      const s = upstream === null
        ? await startServer(["deno", "run", "-A", server, String(port), mode], port, env)
        : await startGatehouse(Number(mode.split(":")[1]), env);
      try {
        const cpu0 = cpuSeconds(s.child.pid);
        const r = await wrk(`http://127.0.0.1:${port}/`, conns, Number(opt.seconds));
        const cpuUs = (cpuSeconds(s.child.pid) - cpu0) * 1e6 / (r.rps * Number(opt.seconds));
        const key = `c${conns} ${variant}`;
        const row = rows.get(key) ?? { cpu: [], rps: [], p50: [], p99: [], max: [], fairness: [] };
        row.cpu.push(cpuUs);
        row.rps.push(r.rps);
        row.p50.push(r.p50);
        row.p99.push(r.p99);
        row.max.push(r.max);
        row.fairness.push(...fairnessOf(s.stderr()));
        rows.set(key, row);
        console.error(
          `round ${round} ${key}: ${r.rps.toFixed(0)} req/s (${cpuUs.toFixed(1)} us CPU each) ` +
            `p50 ${r.p50} p99 ${r.p99} ` +
            `max ${r.max} ms, errors ${r.errors}, fairness ${fairnessOf(s.stderr()).join(" ")}`,
        );
      } finally {
        await s.stop();
        await upstream?.stop();
      }
    }
  }
}

/** Gatehouse with `workers` in front of the upstream on port + 1. */
async function startGatehouse(workers: number, env: Record<string, string>) {
  const file = await Deno.makeTempFile({ prefix: "gatehouse-saturation-", suffix: ".yaml" });
  await Deno.writeTextFile(
    file,
    [
      `entrypoints: { web: { address: "127.0.0.1:${port}" } }`,
      `routes: [{ service: app }]`,
      `services: { app: { servers: ["http://127.0.0.1:${port + 1}"] } }`,
      `admin: { address: "off" }`,
      `log: { access_log: { enabled: false } }`,
      `workers: ${workers}`,
    ].join("\n"),
  );
  const main = new URL("../../proxy/main.ts", import.meta.url).pathname;
  return await startServer(["deno", "run", "-A", main, "--config", file], port, env, "serving");
}

const out: (string | number)[][] = [[
  "load / server",
  "req/s",
  "us CPU/req",
  "p50 ms",
  "p99 ms",
  "max ms",
  "gap p99/mean",
]];
for (const [key, r] of rows) {
  out.push([
    key,
    range(r.rps, 0),
    range(r.cpu),
    range(r.p50),
    range(r.p99),
    range(r.max),
    r.fairness.length ? range(r.fairness) : "-",
  ]);
}
console.log(table(out));
