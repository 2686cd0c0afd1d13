import assert from "node:assert/strict";
import type { ServerRef, Service } from "../config/types.ts";
import { ConnectionRegistry } from "../net/connections.ts";
import { UpstreamError } from "../proto/exchange.ts";
import { attemptServers, type Failure } from "./attempts.ts";
import type { UpstreamServer } from "./server_state.ts";
import { ServiceRuntime } from "./service.ts";

function serviceOf(names: string[], retries: number): ServiceRuntime {
  const servers: ServerRef[] = names.map((n) => ({
    url: `tcp://${n}:1`,
    scheme: "tcp",
    hostname: n,
    port: 1,
    path: null,
    weight: 1,
  }));
  const config: Service = {
    name: "svc",
    protocol: "tcp",
    servers,
    balancing: "round_robin",
    healthCheck: null,
    passiveHealth: { maxFailures: 1, window: 10_000, ejectFor: 60_000 },
    tls: { caPem: null, caFile: null, serverName: null, insecureSkipVerify: false },
    host: "preserve",
    retries,
    keepAlive: { maxIdlePerServer: 0, idleTimeout: 0 },
    httpProtocol: "http/1.1",
    pos: { file: "t.yaml", line: 1, col: 1 },
  };
  const deps = {
    registry: new ConnectionRegistry(),
    connectTimeoutMs: () => 1000,
    onHealthChange: () => {},
  };
  return new ServiceRuntime(config, deps);
}

const ctx = { clientIp: "127.0.0.1", signal: new AbortController().signal };
const refused = new UpstreamError("connect", false, "refused");

/** A plan whose attempts all fail alike, after `onRun` saw the server. */
function failing(
  serverFault: boolean,
  retry: boolean,
  onRun: (server: UpstreamServer) => void = () => {},
) {
  return {
    run(server: UpstreamServer): Promise<string> {
      onRun(server);
      return Promise.reject(refused);
    },
    judge: (): Failure => ({ error: refused, serverFault, retry }),
  };
}

Deno.test("each attempt counts in flight; a failure releases it, a success keeps it", async () => {
  const service = serviceOf(["a", "b", "c"], 2);
  const seen: [string, number][] = [];
  const result = await attemptServers(service, ctx, {
    run(server) {
      seen.push([server.ref.hostname, server.inflight]);
      return seen.length < 3 ? Promise.reject(refused) : Promise.resolve("yes");
    },
    judge: (): Failure => ({ error: refused, serverFault: true, retry: true }),
  });
  assert.ok(result.ok);
  assert.equal(result.value, "yes");
  assert.equal(result.attempts, 3);
  assert.deepEqual(seen.map(([, inflight]) => inflight), [1, 1, 1]);
  assert.equal(new Set(seen.map(([name]) => name)).size, 3, "each server tried once");
  assert.deepEqual(service.servers.map((s) => s.inflight).sort(), [0, 0, 1]);
  result.lease.release();
  assert.deepEqual(service.servers.map((s) => s.inflight), [0, 0, 0]);
  // Server faults were recorded: the two failed servers are ejected.
  assert.equal(service.servers.filter((s) => s.isUp()).length, 1);
});

Deno.test("retries stop at the service's limit, when a failure may not be retried, or on abort", async () => {
  let calls = 0;
  const limited = await attemptServers(
    serviceOf(["a", "b", "c"], 1),
    ctx,
    failing(false, true, () => calls++),
  );
  assert.equal(limited.ok, false);
  assert.equal(calls, 2);
  assert.equal(limited.attempts, 2);

  const service = serviceOf(["a", "b"], 5);
  const once = await attemptServers(service, ctx, failing(false, false));
  assert.equal(once.attempts, 1);
  assert.ok(!once.ok && once.error?.message === "refused" && once.server !== null);
  assert.equal(service.servers.filter((s) => s.isUp()).length, 2, "not a server fault");

  const abort = new AbortController();
  const aborted = await attemptServers(
    serviceOf(["a", "b"], 5),
    { ...ctx, signal: abort.signal },
    failing(false, true, () => abort.abort()),
  );
  assert.equal(aborted.attempts, 1);
});

Deno.test("with no server to pick, nothing is attempted and there is no error", async () => {
  const service = serviceOf(["a"], 3);
  service.servers[0].setHealthy(false);
  const result = await attemptServers(service, ctx, failing(true, true));
  assert.deepEqual(result, { ok: false, error: null, server: null, attempts: 0 });
});

Deno.test("a judge that throws (a bug) releases the lease and the error goes to the caller", async () => {
  const service = serviceOf(["a"], 0);
  await assert.rejects(
    () =>
      attemptServers(service, ctx, {
        run: () => Promise.reject(refused),
        judge: () => {
          throw new Error("bug");
        },
      }),
    /bug/,
  );
  assert.equal(service.servers[0].inflight, 0);
});
