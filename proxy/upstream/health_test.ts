import assert from "node:assert/strict";
import type { ActiveHealthCheck, ServerRef, UpstreamTls } from "../config/types.ts";
import { ConnectionRegistry } from "../net/connections.ts";
import { closedPort, httpUpstream, rawUpstream } from "../testing/servers.ts";
import { dialUpstream } from "../tls/upstream.ts";
import { ConnPool } from "./conn_pool.ts";
import { HealthChecker, probe, type ProbeResult } from "./health.ts";
import { UpstreamServer } from "./server_state.ts";

const TLS: UpstreamTls = { caPem: null, caFile: null, serverName: null, insecureSkipVerify: false };

const CHECK: ActiveHealthCheck = {
  path: "/health",
  interval: 1000,
  timeout: 300,
  healthyThreshold: 2,
  unhealthyThreshold: 3,
  expectStatus: [200, 399],
};

function ref(port: number): ServerRef {
  return {
    url: `http://127.0.0.1:${port}`,
    scheme: "http",
    hostname: "127.0.0.1",
    port,
    weight: 1,
  };
}

const dial = (server: ServerRef, signal: AbortSignal) => dialUpstream(server, TLS, signal);

/** An upstream whose /health answers `state.status`. */
function healthUpstream() {
  const state = { status: 200 };
  const up = httpUpstream(() => new Response("health", { status: state.status }));
  return Object.assign(up, { state });
}

Deno.test("probe: a status in expect_status passes; others, refusals and silence fail", async () => {
  await using up = healthUpstream();
  const result = () => probe(ref(up.port), CHECK, dial);
  assert.deepEqual(await result(), { ok: true, detail: "status 200" });
  up.state.status = 301;
  assert.deepEqual(await result(), { ok: true, detail: "status 301" });
  up.state.status = 404;
  assert.deepEqual(await result(), { ok: false, detail: "status 404" });
  up.state.status = 500;
  assert.deepEqual(await probe(ref(up.port), { ...CHECK, expectStatus: [500, 500] }, dial), {
    ok: true,
    detail: "status 500",
  });
  assert.equal(up.requests[0].target, "/health");
  assert.equal(up.requests[0].headers.get("user-agent"), "Gatehouse-HealthCheck");

  const refused = await probe(ref(closedPort()), CHECK, dial);
  assert.equal(refused.ok, false);
  await using silent = rawUpstream(() => {});
  const started = performance.now();
  assert.deepEqual(await probe(ref(silent.port), CHECK, dial), { ok: false, detail: "timed out" });
  assert.ok(performance.now() - started < 2000);
});

Deno.test("thresholds: down after unhealthy_threshold failures in a row, up after healthy_threshold", async () => {
  await using up = healthUpstream();
  const pool = new ConnPool({
    dial: () => Promise.reject(new Error("health checks dial on their own")),
    registry: new ConnectionRegistry(),
    label: "t",
    maxIdle: 0,
    idleTimeoutMs: 0,
  });
  const server = new UpstreamServer(ref(up.port), pool);
  const transitions: [boolean, ProbeResult][] = [];
  const checker = new HealthChecker(
    CHECK,
    [server],
    dial,
    (s, r) => transitions.push([s.healthy, r]),
  );
  const step = async (status: number) => {
    up.state.status = status;
    await checker.probeAndRecord(server);
    return server.healthy;
  };
  assert.deepEqual([await step(500), await step(500)], [true, true]);
  // A success in between starts the count again.
  assert.deepEqual([await step(200), await step(500), await step(500)], [true, true, true]);
  assert.equal(await step(500), false);
  assert.deepEqual(transitions, [[false, { ok: false, detail: "status 500" }]]);
  assert.deepEqual([await step(200), await step(500), await step(200)], [false, false, false]);
  assert.equal(await step(200), true);
  assert.deepEqual(transitions.map(([healthy]) => healthy), [false, true]);
  checker.stop();
});
