import assert from "node:assert/strict";
import type { ActiveHealthCheck, ServerRef, Service } from "../config/types.ts";
import { ConnectionRegistry } from "../net/connections.ts";
import { closedPort, httpUpstream, rawUpstream } from "../testing/servers.ts";
import { tcpUpstream } from "../testing/tcp_peers.ts";
import { HealthChecker } from "./health.ts";
import { UpstreamServer } from "./server_state.ts";
import type { ProbeResult } from "./transport.ts";
import { transportFor } from "./transport_for.ts";

const CHECK: ActiveHealthCheck = {
  grpcService: null,
  path: "/health",
  interval: 1000,
  timeout: 300,
  healthyThreshold: 2,
  unhealthyThreshold: 3,
  expectStatus: [200, 399],
  send: null,
};

function ref(port: number, scheme: "http" | "tcp" = "http"): ServerRef {
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    scheme,
    hostname: "127.0.0.1",
    port,
    path: null,
    weight: 1,
  };
}

function service(servers: ServerRef[]): Service {
  return {
    name: "svc",
    protocol: servers[0].scheme === "tcp" ? "tcp" : "http",
    servers,
    balancing: "round_robin",
    healthCheck: CHECK,
    passiveHealth: null,
    tls: { caPem: null, caFile: null, serverName: null, insecureSkipVerify: false },
    host: "preserve",
    retries: 0,
    keepAlive: { maxIdlePerServer: 0, idleTimeout: 1000 },
    httpProtocol: "http/1.1",
    pos: { file: "t.yaml", line: 1, col: 1 },
  };
}

/** A checker over real transports for `refs`, and its servers. */
function checkerFor(refs: ServerRef[], check = CHECK) {
  const deps = { registry: new ConnectionRegistry(), connectTimeoutMs: () => 1000 };
  const servers = refs.map((r) => new UpstreamServer(r));
  const transports = new Map(servers.map((s) => [s, transportFor(s.ref, service(refs), deps)]));
  const transitions: [boolean, ProbeResult][] = [];
  const checker = new HealthChecker(
    check,
    servers,
    (server, signal) => transports.get(server)!.probe(check, signal),
    (s, r) => transitions.push([s.healthy, r]),
  );
  return { checker, servers, transitions };
}

/** An upstream whose /health answers `state.status`. */
function healthUpstream() {
  const state = { status: 200 };
  const up = httpUpstream(() => new Response("health", { status: state.status }));
  return Object.assign(up, { state });
}

Deno.test("an HTTP probe passes on a status in expect_status; others, refusals and silence fail", async () => {
  await using up = healthUpstream();
  await using silent = rawUpstream(() => {});
  const { checker, servers: [server, refused, mute] } = checkerFor([
    ref(up.port),
    ref(closedPort()),
    ref(silent.port),
  ]);
  const result = () => checker.probeOnce(server);
  assert.deepEqual(await result(), { ok: true, detail: "status 200" });
  up.state.status = 301;
  assert.deepEqual(await result(), { ok: true, detail: "status 301" });
  up.state.status = 404;
  assert.deepEqual(await result(), { ok: false, detail: "status 404" });
  assert.equal(up.requests[0].target, "/health");
  assert.equal(up.requests[0].headers.get("user-agent"), "Gatehouse-HealthCheck");
  assert.equal((await checker.probeOnce(refused)).ok, false);
  assert.deepEqual(await checker.probeOnce(mute), { ok: false, detail: "timed out" });

  up.state.status = 500;
  const only500 = checkerFor([ref(up.port)], { ...CHECK, expectStatus: [500, 500] });
  assert.deepEqual(await only500.checker.probeOnce(only500.servers[0]), {
    ok: true,
    detail: "status 500",
  });
});

Deno.test("a TCP service's probe is a connect", async () => {
  await using up = tcpUpstream();
  const { checker, servers: [open, closed] } = checkerFor([
    ref(up.port, "tcp"),
    ref(closedPort(), "tcp"),
  ], { ...CHECK, path: null });
  assert.deepEqual(await checker.probeOnce(open), { ok: true, detail: "connected" });
  assert.equal((await checker.probeOnce(closed)).ok, false);
});

Deno.test("thresholds: down after unhealthy_threshold failures in a row, up after healthy_threshold", async () => {
  await using up = healthUpstream();
  const { checker, servers: [server], transitions } = checkerFor([ref(up.port)]);
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
