/**
 * HTTP/2 without TLS (issue 17): h2c with prior knowledge to the HTTP/1.1 upstream, and gRPC
 * unary and server-streaming calls, h2c on both sides, to bench/servers/grpc_echo.ts. Each proxy serves them on
 * listeners of their own that speak HTTP/2 only (nginx 1.22 `listen ... http2` on a plain port,
 * HAProxy `bind ... proto h2`, Gatehouse `h2c: only`, Caddy `protocols h1 h2 h2c`).
 *
 * @module
 */
import { join } from "node:path";
import { GRPC_PATH, GRPC_REQUEST, GRPC_STREAM_MESSAGES, PATHS } from "../lib/layout.ts";
import { h2loadRun, REQ_METRICS } from "./http.ts";
import { MAIN_TARGETS, rateMetrics, type Scenario, type ScenarioContext } from "./types.ts";

/** Writes the gRPC request body for h2load's -d into bench/out; returns its path. */
function grpcBody(ctx: ScenarioContext): string {
  const file = join(ctx.layout.files.out, "grpc-request.bin");
  Deno.writeFileSync(file, GRPC_REQUEST);
  return file;
}

/** gRPC calls to `path`: unary ones, or server streams of GRPC_STREAM_MESSAGES messages. */
function grpcScenario(kind: "unary" | "stream", path: string): Scenario {
  const reply = kind === "unary"
    ? "one 17-byte message back"
    : `${GRPC_STREAM_MESSAGES} 17-byte messages back, each in its own DATA frame`;
  return {
    id: `grpc-${kind}`,
    title: `gRPC ${kind === "unary" ? "unary" : "server-streaming"} calls, h2c both sides, ` +
      "50 connections x 10 streams",
    method: `h2load -t1 -c50 -m10 -d <17-byte gRPC message> -H 'content-type: application/grpc' ` +
      `-H 'te: trailers' http://...${path} through the proxy to bench/servers/grpc_echo.ts ` +
      `(${reply}, trailers grpc-status 0); h2load counts HTTP statuses, not grpc-status`,
    needs: "grpc",
    targets: MAIN_TARGETS,
    metrics: [
      ...rateMetrics("req_s", "calls/s"),
      { key: "max_ms", label: "max ms", better: "lower", digits: 1 },
    ],
    operation: "call",
    run: h2loadRun(
      (_, t) => `http://127.0.0.1:${t.endpoints.grpc}${path}`,
      (ctx) => [
        "-d",
        grpcBody(ctx),
        "-H",
        "content-type: application/grpc",
        "-H",
        "te: trailers",
      ],
    ),
  };
}

/** The h2c scenarios. */
export const H2C_SCENARIOS: Scenario[] = [
  {
    id: "h2c",
    title: "h2c (HTTP/2 with prior knowledge, no TLS), 50 connections x 10 streams",
    method: `h2load -t1 -c50 -m10 http://... (h2load speaks h2c without TLS), GET ${PATHS.small}` +
      " to the HTTP/1.1 upstream; p99 and max from h2load's per-request log",
    needs: "h2c",
    targets: MAIN_TARGETS,
    metrics: [...REQ_METRICS, { key: "max_ms", label: "max ms", better: "lower", digits: 1 }],
    operation: "req",
    run: h2loadRun((_, t) => `http://127.0.0.1:${t.endpoints.h2c}${PATHS.small}`),
  },
  grpcScenario("unary", GRPC_PATH),
  grpcScenario("stream", GRPC_PATH.replace(/Unary$/, "ServerStream")),
];
