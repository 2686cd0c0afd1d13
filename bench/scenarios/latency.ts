/**
 * Latency scenarios of issue 18: the tail at saturation (`wrk -c500`) and paced, unsaturated TLS
 * traffic (h2load `--rps` over h2, bench/clients/paced_h1.ts over HTTP/1.1) for small and 1 MiB
 * responses, where a response that waits on the peer's delayed ACK shows as ~40 ms steps.
 *
 * @module
 */
import { join } from "node:path";
import { benchJson, h2loadLogPercentile, parseH2load } from "../lib/parse.ts";
import { PATHS } from "../lib/layout.ts";
import type { MetricSpec } from "../lib/stats.ts";
import type { Target } from "../lib/targets.ts";
import { readOperations, readWrk, wrkArgv } from "./http.ts";
import {
  denoClient,
  MAIN_TARGETS,
  measureTool,
  type Scenario,
  type ScenarioContext,
} from "./types.ts";

/** Median and p99 latency, the median first. */
const PACED_METRICS: MetricSpec[] = [
  { key: "p50_ms", label: "median ms", better: "lower", digits: 2 },
  { key: "p99_ms", label: "p99 ms", better: "lower", digits: 2 },
];

/** How hard each paced scenario pushes: far below every proxy's saturation. */
const PACE = {
  small: { connections: 4, rps: 300, pause: 5 },
  large: { connections: 2, rps: 5, pause: 100 },
};

async function saturatedMeasure(ctx: ScenarioContext, target: Target) {
  const url = `http://127.0.0.1:${target.endpoints.http}${PATHS.small}`;
  const { seconds, warmup } = ctx.timing;
  return await measureTool(ctx, target, {
    warmup: warmup > 0 ? wrkArgv(url, 500, warmup) : undefined,
    argv: wrkArgv(url, 500, seconds),
  }, (out) => readWrk(out.stdout));
}

function pacedH2(size: "small" | "large"): Scenario["run"] {
  return async (ctx, target) => {
    const url = `https://localhost:${target.endpoints.https}${PATHS[size]}`;
    const log = join(ctx.layout.files.out, "h2load-paced.log");
    const { connections, rps } = PACE[size];
    const argv = (seconds: number, logFile?: string) => [
      "h2load",
      "-t1",
      `-c${connections}`,
      "-m1",
      `--rps=${rps}`,
      "-D",
      String(seconds),
      ...(logFile ? ["--log-file", logFile] : []),
      url,
    ];
    const { seconds, warmup } = ctx.timing;
    // h2load appends to its log file: each measurement starts a new one.
    await Deno.remove(log).catch(() => {});
    return await measureTool(ctx, target, {
      warmup: warmup > 0 ? argv(warmup) : undefined,
      argv: argv(seconds, log),
    }, (out) => {
      const r = parseH2load(out.stdout);
      const requests = Deno.readTextFileSync(log);
      return {
        values: {
          p50_ms: h2loadLogPercentile(requests, 50),
          p99_ms: h2loadLogPercentile(requests, 99),
        },
        operations: r.done,
        seconds: r.seconds,
        errors: r.failed,
        note: r.failed > 0 ? `failed ${r.failed}, 2xx ${r.status2xx}` : undefined,
      };
    });
  };
}

function pacedH1(size: "small" | "large"): Scenario["run"] {
  return async (ctx, target) => {
    const { connections, pause } = PACE[size];
    const args = (seconds: number) =>
      denoClient("paced_h1.ts", {
        port: target.endpoints.https!,
        ca: ctx.layout.files.ca,
        path: PATHS[size],
        connections,
        pause,
        seconds,
        warmup: 0,
      });
    const { seconds, warmup } = ctx.timing;
    return await measureTool(ctx, target, {
      warmup: warmup > 0 ? args(warmup) : undefined,
      argv: args(seconds),
    }, (out) => {
      const r = readOperations(out.stdout, "req_s", "paced_h1.ts");
      const { p50_ms } = benchJson<{ p50_ms: number }>(out.stdout, "paced_h1.ts");
      return { ...r, values: { p50_ms, p99_ms: r.values.p99_ms } };
    });
  };
}

/** The latency scenarios, in report order. */
export const LATENCY_SCENARIOS: Scenario[] = [
  {
    id: "h1-c500",
    title: "HTTP/1.1 keep-alive at saturation, 500 connections",
    method: `wrk -t1 -c500, GET ${PATHS.small} over plain HTTP/1.1 keep-alive; the tail (p99)`,
    needs: "http",
    targets: MAIN_TARGETS,
    metrics: [
      { key: "p99_ms", label: "p99 ms", better: "lower", digits: 2 },
      { key: "req_s", label: "req/s", better: "higher", digits: 0 },
    ],
    operation: "req",
    run: saturatedMeasure,
  },
  {
    id: "paced-h2",
    title: "Paced TLS h2, small responses",
    method:
      `h2load -t1 -c${PACE.small.connections} -m1 --rps=${PACE.small.rps} (per connection), ` +
      `GET ${PATHS.small}; median and p99 from h2load's per-request log`,
    needs: "https",
    targets: MAIN_TARGETS,
    metrics: PACED_METRICS,
    operation: "req",
    run: pacedH2("small"),
  },
  {
    id: "paced-h2-1m",
    title: "Paced TLS h2, 1 MiB responses",
    method:
      `h2load -t1 -c${PACE.large.connections} -m1 --rps=${PACE.large.rps} (per connection), ` +
      `GET ${PATHS.large}; median and p99 from h2load's per-request log`,
    needs: "https",
    targets: MAIN_TARGETS,
    metrics: PACED_METRICS,
    operation: "req",
    run: pacedH2("large"),
  },
  {
    id: "paced-h1",
    title: "Paced TLS HTTP/1.1, small responses",
    method: `bench/clients/paced_h1.ts: ${PACE.small.connections} keep-alive TLS connections, ` +
      `each GET ${PATHS.small} then a ${PACE.small.pause} ms pause; median and p99`,
    needs: "https",
    targets: MAIN_TARGETS,
    metrics: PACED_METRICS,
    operation: "req",
    run: pacedH1("small"),
  },
  {
    id: "paced-h1-1m",
    title: "Paced TLS HTTP/1.1, 1 MiB responses",
    method: `bench/clients/paced_h1.ts: ${PACE.large.connections} keep-alive TLS connections, ` +
      `each GET ${PATHS.large} then a ${PACE.large.pause} ms pause; median and p99`,
    needs: "https",
    targets: MAIN_TARGETS,
    metrics: PACED_METRICS,
    operation: "req",
    run: pacedH1("large"),
  },
];
