/**
 * WebSocket echo (issue 4): 50 sessions, each sending one binary message and waiting for its
 * echo before the next, with 64-byte and 64 KiB messages.
 *
 * @module
 */
import { PATHS } from "../lib/layout.ts";
import type { Target } from "../lib/targets.ts";
import { readOperations } from "./http.ts";
import {
  denoClient,
  MAIN_TARGETS,
  measureTool,
  rateMetrics,
  type Scenario,
  type ScenarioContext,
} from "./types.ts";

function wsMeasure(size: number): Scenario["run"] {
  return (ctx: ScenarioContext, target: Target) => {
    const args = (seconds: number) =>
      denoClient("ws_load.ts", {
        port: target.endpoints.ws!,
        path: PATHS.ws,
        size,
        sessions: 50,
        seconds,
        warmup: 0,
      });
    const { seconds, warmup } = ctx.timing;
    return measureTool(
      ctx,
      target,
      { warmup: warmup > 0 ? args(warmup) : undefined, argv: args(seconds) },
      (out) => readOperations(out.stdout, "msg_s", "ws_load.ts"),
    );
  };
}

function wsScenario(id: string, size: number, label: string): Scenario {
  return {
    id,
    title: `WebSocket echo, ${label} messages, 50 sessions`,
    method: `bench/clients/ws_load.ts: 50 sessions on ${PATHS.ws}, each sends one ${label} ` +
      "binary message and waits for the echo (bench/servers/ws_echo.ts) before the next",
    needs: "ws",
    targets: MAIN_TARGETS,
    metrics: rateMetrics("msg_s", "msg/s", "p99 RTT ms"),
    operation: "msg",
    run: wsMeasure(size),
  };
}

/** The WebSocket scenarios. */
export const WEBSOCKET_SCENARIOS: Scenario[] = [
  wsScenario("ws-64b", 64, "64 B"),
  wsScenario("ws-64k", 64 * 1024, "64 KiB"),
];
