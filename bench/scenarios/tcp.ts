/**
 * Raw TCP (issue 5): one 1 GiB transfer through a layer-4 listener, and the rate of short
 * connections (connect, 4-byte echo, close).
 *
 * @module
 */
import type { Target } from "../lib/targets.ts";
import { benchJson } from "../lib/parse.ts";
import { readOperations } from "./http.ts";
import {
  denoClient,
  MAIN_TARGETS,
  measureTool,
  rateMetrics,
  type Scenario,
  type ScenarioContext,
} from "./types.ts";

const WARMUP_BYTES = 64 * 1024 * 1024;

async function throughput(ctx: ScenarioContext, target: Target) {
  const args = (bytes: number) =>
    denoClient("tcp_load.ts", {
      mode: "throughput",
      port: target.endpoints.tcpSource!,
      bytes,
      "warmup-bytes": 0,
    });
  const warmup = ctx.timing.warmup > 0 ? args(WARMUP_BYTES) : undefined;
  return await measureTool(ctx, target, { warmup, argv: args(ctx.timing.tcpBytes) }, (out) => {
    const r = benchJson<{ bytes: number; seconds: number; mb_per_s: number }>(
      out.stdout,
      "tcp_load.ts",
    );
    return {
      values: { mb_s: r.mb_per_s },
      operations: r.bytes / 1e6,
      seconds: r.seconds,
      errors: 0,
    };
  });
}

async function connections(ctx: ScenarioContext, target: Target) {
  const args = (seconds: number) =>
    denoClient("tcp_load.ts", {
      mode: "connections",
      port: target.endpoints.tcpEcho!,
      concurrency: 50,
      seconds,
      warmup: 0,
    });
  const { seconds, warmup } = ctx.timing;
  return await measureTool(
    ctx,
    target,
    { warmup: warmup > 0 ? args(warmup) : undefined, argv: args(seconds) },
    (out) => readOperations(out.stdout, "conn_s", "tcp_load.ts"),
  );
}

/** The TCP scenarios. */
export const TCP_SCENARIOS: Scenario[] = [
  {
    id: "tcp-1gib",
    title: "TCP throughput, one 1 GiB stream",
    method: "bench/clients/tcp_load.ts --mode throughput: asks bench/servers/tcp_upstream.ts " +
      "for the bytes (after a 64 MiB warm-up transfer) and reads them to EOF; the size is " +
      "--tcp-bytes",
    needs: "tcpSource",
    targets: MAIN_TARGETS,
    metrics: [{ key: "mb_s", label: "MB/s", better: "higher", digits: 0 }],
    operation: "MB",
    run: throughput,
  },
  {
    id: "tcp-conn",
    title: "TCP connection rate",
    method: "bench/clients/tcp_load.ts --mode connections: 50 loops of connect, send 4 bytes, " +
      "read the echo, close",
    needs: "tcpEcho",
    targets: MAIN_TARGETS,
    metrics: rateMetrics("conn_s", "conn/s"),
    operation: "conn",
    run: connections,
  },
];
