import assert from "node:assert/strict";
import { loadConfigText } from "../config/load.ts";
import type { Config } from "../config/types.ts";
import { parseExposition, sampleValue } from "../testing/prometheus.ts";
import type { AccessRecord } from "./records.ts";
import { ControlMetrics, exposition } from "./control_metrics.ts";
import { Metrics } from "./metrics.ts";

async function config(): Promise<Config> {
  const loaded = await loadConfigText(
    `entrypoints: { web: { address: "127.0.0.1:0" } }\nroutes: [{ service: app }]\n` +
      `services: { app: { servers: ["http://127.0.0.1:9"] } }\n`,
    "/nonexistent/gatehouse.yaml",
  );
  if (!loaded.ok) throw new Error("Cannot load the test config");
  return loaded.config;
}

function request(durationMs: number): AccessRecord {
  return {
    requestId: "r",
    entrypoint: "web",
    route: "app",
    service: "app",
    upstream: "http://127.0.0.1:9",
    clientIp: "127.0.0.1",
    method: "GET",
    target: "/",
    host: "app",
    protocol: "HTTP/1.1",
    kind: "http",
    status: 200,
    bytesIn: 0,
    bytesOut: 10,
    durationMs,
    userAgent: null,
    referer: null,
    attempts: 1,
    error: null,
    source: null,
    reason: null,
    droppedHeaders: 0,
    grpcStatus: null,
    user: null,
    upstreamTarget: null,
    middleware: null,
    middlewareReason: null,
  };
}

Deno.test("the exposition sums every isolate's series: counters, histograms and gauges", async () => {
  const cfg = await config();
  const workers = [0, 1].map(() => {
    const m = new Metrics({
      config: () => cfg,
      clientConnections: () => [{ entrypoint: "web", protocol: "http" }],
      upstreamConnections: () => [],
    });
    m.configure(cfg);
    return m;
  });
  for (let i = 0; i < 3; i++) workers[0].observe(request(20));
  for (let i = 0; i < 4; i++) workers[1].observe(request(200));
  const control = new ControlMetrics({ config: () => cfg, servers: () => [] });
  control.reloaded(false);
  const text = await exposition([
    await workers[0].samples(),
    await workers[1].samples(),
    await control.samples(),
  ]);
  const samples = await parseExposition(text);
  const labels = { entrypoint: "web", code: "200", method: "GET", protocol: "http" };
  assert.equal(sampleValue(samples, "gatehouse_entrypoint_requests_total", labels), 7);
  const bucket = (le: string) =>
    sampleValue(samples, "gatehouse_entrypoint_request_duration_seconds_bucket", { ...labels, le });
  assert.deepEqual([bucket("0.025"), bucket("0.3"), bucket("+Inf")], [3, 7, 7]);
  assert.equal(sampleValue(samples, "gatehouse_entrypoint_responses_bytes_total", labels), 70);
  assert.equal(
    sampleValue(samples, "gatehouse_entrypoint_open_connections", { entrypoint: "web" }),
    2,
  );
  assert.equal(sampleValue(samples, "gatehouse_config_reload_failures_total"), 1);
  assert.equal(text.match(/^# TYPE gatehouse_entrypoint_requests_total counter$/gm)?.length, 1);
});
