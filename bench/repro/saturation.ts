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
 * variable DENO_TOKIO_MAX_IO_EVENTS_PER_TICK=N for the server process).
 *
 * Result on the shared 2-core box (2026-12-06, other engineers' tests running, load average
 * 2-10, so absolute req/s vary; compare within a round): see docs/runtime.md, section 1.
 *
 * @module
 */
import { flags, range, startServer, table, wrk } from "./common.ts";

const opt = flags({
  conns: "150,500",
  rounds: "2",
  seconds: "8",
  variants: "raw,raw+ev64,serve,node",
  port: "39021",
});
const port = Number(opt.port);
const server = new URL("./saturation_server.ts", import.meta.url).pathname;

interface Row {
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
      }
      const s = await startServer(["deno", "run", "-A", server, String(port), mode], port, env);
      try {
        const r = await wrk(`http://127.0.0.1:${port}/`, conns, Number(opt.seconds));
        const key = `c${conns} ${variant}`;
        const row = rows.get(key) ?? { rps: [], p50: [], p99: [], max: [], fairness: [] };
        row.rps.push(r.rps);
        row.p50.push(r.p50);
        row.p99.push(r.p99);
        row.max.push(r.max);
        row.fairness.push(...fairnessOf(s.stderr()));
        rows.set(key, row);
        console.error(
          `round ${round} ${key}: ${r.rps.toFixed(0)} req/s p50 ${r.p50} p99 ${r.p99} ` +
            `max ${r.max} ms, errors ${r.errors}, fairness ${fairnessOf(s.stderr()).join(" ")}`,
        );
      } finally {
        await s.stop();
      }
    }
  }
}

const out: (string | number)[][] = [[
  "load / server",
  "req/s",
  "p50 ms",
  "p99 ms",
  "max ms",
  "gap p99/mean",
]];
for (const [key, r] of rows) {
  out.push([
    key,
    range(r.rps, 0),
    range(r.p50),
    range(r.p99),
    range(r.max),
    r.fairness.length ? range(r.fairness) : "-",
  ]);
}
console.log(table(out));
