/**
 * HTTP scenarios of issue 8: HTTP/1.1 keep-alive small responses, TLS with ALPN h2, TLS
 * HTTP/1.1, new TLS connections per second, and 1 MiB responses.
 *
 * @module
 */
import { join } from "node:path";
import { benchJson, h2loadLogPercentile, parseH2load, type WrkResult } from "../lib/parse.ts";
import { PATHS, ROOT } from "../lib/layout.ts";
import { type Target, TARGET_NAMES } from "../lib/targets.ts";
import {
  denoClient,
  MAIN_TARGETS,
  measureTool,
  rateMetrics,
  type Scenario,
  type ScenarioContext,
  type ToolReading,
} from "./types.ts";

const WRK_SCRIPT = join(ROOT, "bench/clients/wrk_report.lua");

/** Metrics of request-rate scenarios. */
export const REQ_METRICS = rateMetrics("req_s", "req/s");

/** wrk's argv for `url` with `connections` for `seconds`, plus extra flags (headers). */
export function wrkArgv(url: string, connections: number, seconds: number, extra: string[] = []) {
  return [
    "wrk",
    "-t1",
    `-c${connections}`,
    `-d${seconds}s`,
    "--timeout",
    "5s",
    "-s",
    WRK_SCRIPT,
    ...extra,
    url,
  ];
}

/** Reads wrk_report.lua's line: successful responses per second, p99, MB/s and bytes each. */
export function readWrk(stdout: string): ToolReading {
  const r = benchJson<WrkResult>(stdout, "wrk");
  const seconds = r.duration_us / 1e6;
  const e = r.errors;
  const errors = e.connect + e.read + e.write + e.status + e.timeout;
  const ok = Math.max(0, r.requests - e.status);
  const note = errors > 0
    ? `errors: connect ${e.connect}, read ${e.read}, write ${e.write}, non-2xx/3xx ${e.status}, ` +
      `timeout ${e.timeout}`
    : undefined;
  return {
    values: {
      req_s: ok / seconds,
      p99_ms: r.p99_us / 1000,
      mb_s: r.bytes / 1e6 / seconds,
      bytes_per_resp: r.requests > 0 ? r.bytes / r.requests : NaN,
    },
    operations: r.requests,
    seconds,
    errors,
    note,
  };
}

/** A wrk-driven scenario against `url(target)`. */
function wrkMeasure(
  url: (target: Target) => string,
  connections: number,
  extra: string[] = [],
): Scenario["run"] {
  return (ctx: ScenarioContext, target: Target) => {
    const { seconds, warmup } = ctx.timing;
    return measureTool(ctx, target, {
      warmup: warmup > 0 ? wrkArgv(url(target), connections, warmup, extra) : undefined,
      argv: wrkArgv(url(target), connections, seconds, extra),
    }, (out) => readWrk(out.stdout));
  };
}

const h2loadArgv = (url: string, seconds: number, extra: string[], log?: string) => [
  "h2load",
  "-t1",
  "-c50",
  "-m10",
  "-D",
  String(seconds),
  ...extra,
  ...(log ? ["--log-file", log] : []),
  url,
];

/**
 * An h2load-driven scenario (50 connections x 10 streams) against `urlOf(ctx, target)` (https:
 * ALPN h2; http: h2c with prior knowledge), with `extra` flags; p99 and max from its log.
 */
export function h2loadRun(
  urlOf: (ctx: ScenarioContext, target: Target) => string | Promise<string>,
  extra: (ctx: ScenarioContext) => string[] = () => [],
): Scenario["run"] {
  return (ctx, target) => h2Measure(ctx, target, urlOf, extra(ctx));
}

async function h2Measure(
  ctx: ScenarioContext,
  target: Target,
  urlOf: (ctx: ScenarioContext, target: Target) => string | Promise<string>,
  extra: string[],
) {
  const url = await urlOf(ctx, target);
  const log = join(ctx.layout.files.out, "h2load-requests.log");
  const { seconds, warmup } = ctx.timing;
  // h2load appends to its log file: each measurement starts a new one.
  await Deno.remove(log).catch(() => {});
  return await measureTool(ctx, target, {
    warmup: warmup > 0 ? h2loadArgv(url, warmup, extra) : undefined,
    argv: h2loadArgv(url, seconds, extra, log),
  }, (out) => {
    const r = parseH2load(out.stdout);
    const requests = Deno.readTextFileSync(log);
    const p99 = h2loadLogPercentile(requests, 99);
    const note = r.failed > 0
      ? `failed ${r.failed} (errored ${r.errored}, timeout ${r.timeout}), 2xx ${r.status2xx}`
      : undefined;
    return {
      values: {
        req_s: r.succeeded / r.seconds,
        p99_ms: p99,
        max_ms: h2loadLogPercentile(requests, 100),
      },
      operations: r.done,
      seconds: r.seconds,
      errors: r.failed,
      note,
    };
  });
}

async function handshakeMeasure(ctx: ScenarioContext, target: Target) {
  const { seconds, warmup } = ctx.timing;
  const args = (s: number) =>
    denoClient("tls_handshakes.ts", {
      port: target.endpoints.https!,
      ca: ctx.layout.files.ca,
      concurrency: 50,
      seconds: s,
      warmup: 0,
    });
  return await measureTool(ctx, target, {
    warmup: warmup > 0 ? args(warmup) : undefined,
    argv: args(seconds),
  }, (out) => readOperations(out.stdout, "conn_s", "tls_handshakes.ts"));
}

/** Reads a Deno client's result: operations per second under `key`, p99, errors. */
export function readOperations(stdout: string, key: string, tool: string): ToolReading {
  const r = benchJson<{
    operations: number;
    seconds: number;
    errors: number;
    first_error?: string;
    p99_ms: number;
  }>(stdout, tool);
  return {
    values: { [key]: r.operations / r.seconds, p99_ms: r.p99_ms },
    operations: r.operations,
    seconds: r.seconds,
    errors: r.errors,
    note: r.errors > 0 ? `${r.errors} errors, first: ${r.first_error}` : undefined,
  };
}

/** The HTTP scenarios, in report order. */
export const HTTP_SCENARIOS: Scenario[] = [
  {
    id: "h1",
    title: "HTTP/1.1 keep-alive, small response",
    method: `wrk -t1 -c50, GET ${PATHS.small} (17-byte body) over plain HTTP/1.1 keep-alive`,
    needs: "http",
    targets: TARGET_NAMES,
    metrics: REQ_METRICS,
    operation: "req",
    run: wrkMeasure((t) => `http://127.0.0.1:${t.endpoints.http}${PATHS.small}`, 50),
  },
  {
    id: "h1-mw",
    title: "HTTP/1.1 keep-alive, small response, through ip_allow + headers + rate_limit",
    method: `wrk -t1 -c50, GET ${PATHS.middlewares} (the h1 answer) on a route with an IP allow ` +
      `list, three security headers and a generous rate limit (nginx: allow/deny, add_header, ` +
      `limit_req); compare with h1 for their cost. "direct" is the upstream, without them`,
    needs: "http",
    targets: ["direct", "gatehouse", "nginx"],
    metrics: REQ_METRICS,
    operation: "req",
    run: wrkMeasure((t) => `http://127.0.0.1:${t.endpoints.http}${PATHS.middlewares}`, 50),
  },
  {
    id: "h2",
    title: "TLS, ALPN h2, 50 connections x 10 streams",
    method: `h2load -t1 -c50 -m10, GET ${PATHS.small}; p99 and max (target: no request over 1 s) ` +
      "from h2load's per-request log",
    needs: "https",
    targets: TARGET_NAMES,
    metrics: [...REQ_METRICS, { key: "max_ms", label: "max ms", better: "lower", digits: 1 }],
    operation: "req",
    run: h2loadRun((_, t) => `https://localhost:${t.endpoints.https}${PATHS.small}`),
  },
  {
    id: "tls-h1",
    title: "TLS, HTTP/1.1 keep-alive",
    method: `wrk -t1 -c50 over TLS (no ALPN offered: HTTP/1.1), GET ${PATHS.small}`,
    needs: "https",
    targets: MAIN_TARGETS,
    metrics: REQ_METRICS,
    operation: "req",
    run: wrkMeasure((t) => `https://localhost:${t.endpoints.https}${PATHS.small}`, 50),
  },
  {
    id: "tls-new",
    title: "New TLS connections per second",
    method: "bench/clients/tls_handshakes.ts, 50 loops of: full TLS handshake (no resumption), " +
      "one GET with Connection: close, read to EOF",
    needs: "https",
    targets: MAIN_TARGETS,
    metrics: rateMetrics("conn_s", "conn/s"),
    operation: "conn",
    run: handshakeMeasure,
  },
  {
    id: "1mib",
    title: "1 MiB responses, HTTP/1.1 keep-alive",
    method: `wrk -t1 -c10, GET ${PATHS.large} (1 MiB of random bytes from the page cache)`,
    needs: "http",
    targets: MAIN_TARGETS,
    metrics: rateMetrics("mb_s", "MB/s"),
    operation: "resp",
    run: wrkMeasure((t) => `http://127.0.0.1:${t.endpoints.http}${PATHS.large}`, 10),
  },
];
