/**
 * HTTP/2 without TLS (issue 17): h2c with prior knowledge to the HTTP/1.1 upstream, and gRPC
 * unary calls, h2c on both sides, to bench/servers/grpc_echo.ts. Each proxy serves them on
 * listeners of their own that speak HTTP/2 only (nginx 1.22 `listen ... http2` on a plain port,
 * HAProxy `bind ... proto h2`, Gatehouse `h2c: only`, Caddy `protocols h1 h2 h2c`).
 *
 * @module
 */
import { join } from "node:path";
import { GRPC_PATH, GRPC_REQUEST, PATHS } from "../lib/layout.ts";
import { h2loadRun, REQ_METRICS } from "./http.ts";
import { MAIN_TARGETS, type Scenario, type ScenarioContext } from "./types.ts";

/** Writes the gRPC request body for h2load's -d into bench/out; returns its path. */
function grpcBody(ctx: ScenarioContext): string {
  const file = join(ctx.layout.files.out, "grpc-request.bin");
  Deno.writeFileSync(file, GRPC_REQUEST);
  return file;
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
  {
    id: "grpc-unary",
    title: "gRPC unary calls, h2c both sides, 50 connections x 10 streams",
    method: `h2load -t1 -c50 -m10 -d <17-byte gRPC message> -H 'content-type: application/grpc' ` +
      `-H 'te: trailers' http://...${GRPC_PATH} through the proxy to bench/servers/grpc_echo.ts ` +
      "(one 17-byte message back, trailers grpc-status 0); h2load counts HTTP statuses, not " +
      "grpc-status",
    needs: "grpc",
    targets: MAIN_TARGETS,
    metrics: [...REQ_METRICS, { key: "max_ms", label: "max ms", better: "lower", digits: 1 }],
    operation: "req",
    run: h2loadRun(
      (_, t) => `http://127.0.0.1:${t.endpoints.grpc}${GRPC_PATH}`,
      (ctx) => [
        "-d",
        grpcBody(ctx),
        "-H",
        "content-type: application/grpc",
        "-H",
        "te: trailers",
      ],
    ),
  },
];
