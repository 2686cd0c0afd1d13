/**
 * Reading what the load generators print: the `BENCH_JSON` line of wrk (through
 * bench/clients/wrk_report.lua) and of the Deno clients, h2load's summary, and h2load's
 * per-request log for percentiles.
 *
 * @module
 */
import { percentile, RESULT_MARK } from "../clients/common.ts";

/** wrk's numbers, from wrk_report.lua. */
export interface WrkResult {
  requests: number;
  bytes: number;
  duration_us: number;
  p50_us: number;
  p99_us: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
}

/** Totals of h2load's summary. */
export interface H2loadResult {
  seconds: number;
  reqPerSec: number;
  done: number;
  succeeded: number;
  failed: number;
  errored: number;
  timeout: number;
  status2xx: number;
  /** Bytes received, headers and frames included. */
  bytes: number;
}

/** The object on the last `BENCH_JSON ` line of a tool's stdout. */
export function benchJson<T>(stdout: string, tool: string): T {
  const line = stdout.split("\n").findLast((l) => l.startsWith(RESULT_MARK));
  if (!line) {
    const tail = stdout.trim().split("\n").slice(-3).join(" | ");
    throw new Error(`Cannot read ${tool}'s result: no ${RESULT_MARK.trim()} line in "${tail}"`);
  }
  return JSON.parse(line.slice(RESULT_MARK.length)) as T;
}

/** Parses h2load's summary ("finished in", "requests:", "status codes:", "traffic:"). */
export function parseH2load(stdout: string): H2loadResult {
  const need = (re: RegExp, what: string) => {
    const match = stdout.match(re);
    if (!match) throw new Error(`Cannot read h2load's ${what}: no match for ${re} in its output`);
    return match;
  };
  const finished = need(/^finished in ([\d.]+)(ms|s), ([\d.]+) req\/s/m, "duration");
  const requests = need(
    /^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/m,
    "request counts",
  );
  const status = need(/^status codes: (\d+) 2xx/m, "status codes");
  const traffic = need(/^traffic: [\d.]+\w*B \((\d+)\) total/m, "traffic");
  const seconds = Number(finished[1]) / (finished[2] === "ms" ? 1000 : 1);
  return {
    seconds,
    reqPerSec: Number(finished[3]),
    done: Number(requests[3]),
    succeeded: Number(requests[4]),
    failed: Number(requests[5]),
    errored: Number(requests[6]),
    timeout: Number(requests[7]),
    status2xx: Number(status[1]),
    bytes: Number(traffic[1]),
  };
}

/**
 * The p-th percentile (0-100) of request durations in an h2load `--log-file` (lines of
 * "start time, status, duration in microseconds", tab separated), in milliseconds.
 */
export function h2loadLogPercentile(log: string, p: number): number {
  const durations: number[] = [];
  for (const line of log.split("\n")) {
    const fields = line.split("\t");
    if (fields.length >= 3) durations.push(Number(fields[2]));
  }
  return percentile(durations, p) / 1000;
}
