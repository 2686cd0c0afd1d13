/**
 * gRPC health checks: the two messages by hand, and probes of a python3-grpcio server's health
 * service (grpc_peer.py) through the HTTP/2 transport: SERVING, NOT_SERVING, an unknown service.
 */
import assert from "node:assert/strict";
import type { ActiveHealthCheck, Service } from "../config/types.ts";
import { ConnectionRegistry } from "../net/connections.ts";
import { grpcServer } from "../testing/grpc.ts";
import { healthCheckRequest, healthCheckStatus } from "./grpc_health.ts";
import type { HttpTransport } from "./transport.ts";
import { transportFor } from "./transport_for.ts";

Deno.test("HealthCheckRequest and HealthCheckResponse frames", () => {
  assert.deepEqual(healthCheckRequest(""), new Uint8Array([0, 0, 0, 0, 0]));
  assert.deepEqual(
    healthCheckRequest("ab"),
    new Uint8Array([0, 0, 0, 0, 4, 0x0a, 2, 0x61, 0x62]),
  );
  assert.equal(healthCheckStatus(new Uint8Array([0, 0, 0, 0, 2, 0x08, 1])), 1);
  assert.equal(healthCheckStatus(new Uint8Array([0, 0, 0, 0, 0])), 0);
  assert.equal(healthCheckStatus(new Uint8Array([1, 0, 0, 0, 2, 0x08, 1])), null);
  assert.equal(healthCheckStatus(new Uint8Array([0, 0, 0, 0, 3, 0x08, 1])), null);
});

Deno.test("gRPC health probes of a grpcio server: SERVING, NOT_SERVING, unknown service", async () => {
  await using server = await grpcServer();
  const service: Service = {
    name: "grpc",
    protocol: "http",
    servers: [],
    balancing: "round_robin",
    healthCheck: null,
    passiveHealth: null,
    tls: { caPem: null, caFile: null, serverName: null, insecureSkipVerify: false },
    host: "preserve",
    retries: 0,
    keepAlive: { maxIdlePerServer: 4, idleTimeout: 10_000 },
    httpProtocol: "http/1.1",
    pos: { file: "t.yaml", line: 1, col: 1 },
  };
  const ref = {
    url: `h2c://127.0.0.1:${server.port}`,
    scheme: "h2c" as const,
    hostname: "127.0.0.1",
    port: server.port,
    path: null,
    weight: 1,
  };
  const deps = { registry: new ConnectionRegistry(), connectTimeoutMs: () => 2000 };
  const t = transportFor(ref, service, deps) as HttpTransport;
  const check = (grpcService: string): ActiveHealthCheck => ({
    path: null,
    grpcService,
    interval: 1000,
    timeout: 500,
    healthyThreshold: 1,
    unhealthyThreshold: 1,
    expectStatus: [200, 399],
    send: null,
  });
  const probe = (name: string) => t.probe(check(name), AbortSignal.timeout(5000));
  assert.deepEqual(await probe(""), { ok: true, detail: "SERVING (gRPC health)" });
  assert.deepEqual(await probe("test.Echo"), { ok: true, detail: "SERVING (gRPC health)" });
  assert.deepEqual(await probe("down"), { ok: false, detail: "NOT_SERVING (gRPC health)" });
  assert.deepEqual(await probe("nope"), { ok: false, detail: "grpc-status 5 (gRPC health)" });
  t.close();
});
