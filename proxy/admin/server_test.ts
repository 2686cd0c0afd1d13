import assert from "node:assert/strict";
import type { ReloadResult } from "../app/reloader.ts";
import { captureLog, logText } from "../testing/logs.ts";
import { readResponse, WireReader, writeAll } from "../testing/wire.ts";
import {
  type AdminDeps,
  type AdminRefusal,
  type AdminToken,
  readAdminToken,
  startAdmin,
} from "./server.ts";

/** The admin endpoint on a free loopback port, over `overrides` of plain dependencies. */
function admin(overrides: Partial<AdminDeps> = {}) {
  const reloads: string[] = [];
  const refusals: AdminRefusal[] = [];
  const deps: AdminDeps = {
    ready: () => true,
    draining: () => false,
    metrics: () => Promise.resolve({ contentType: "text/plain; version=0.0.4", text: "m 1\n" }),
    status: () => ({ version: "v1" }),
    reload: () => {
      reloads.push("admin");
      return Promise.resolve(result(true));
    },
    token: () => ({ kind: "none" }),
    refused: (reason) => refusals.push(reason),
    ...overrides,
  };
  const server = startAdmin({ hostname: "127.0.0.1", port: 0 }, deps);
  return {
    reloads,
    refusals,
    port: server.port,
    fetch: async (path: string, init?: RequestInit) => {
      const res = await fetch(`http://127.0.0.1:${server.port}${path}`, init);
      return { status: res.status, headers: res.headers, body: await res.text() };
    },
    [Symbol.asyncDispose]: () => server.close(),
  };
}

function result(ok: boolean): ReloadResult {
  return { ok, reason: "admin", at: "2026-01-01T00:00:00.000Z", version: "v2", errors: [] };
}

const bearer = (value: string): () => AdminToken => () => ({ kind: "bearer", value });

Deno.test("admin: the probes answer liveness, readiness and draining", async () => {
  let ready = false;
  let draining = false;
  await using a = admin({ ready: () => ready, draining: () => draining });
  assert.deepEqual([(await a.fetch("/healthz")).status, (await a.fetch("/readyz")).body], [
    200,
    "not ready\n",
  ]);
  ready = true;
  const up = await a.fetch("/readyz");
  assert.deepEqual([up.status, up.body], [200, "ready\n"]);
  assert.equal(up.headers.get("cache-control"), "no-store");
  draining = true;
  const down = await a.fetch("/readyz");
  assert.deepEqual([down.status, down.body], [503, "draining\n"]);
  assert.equal((await a.fetch("/healthz")).status, 200, "alive while draining");
});

Deno.test("admin: metrics, status and reload answer their method only", async () => {
  let ok = true;
  await using a = admin({ reload: () => Promise.resolve(result(ok)) });
  const metrics = await a.fetch("/metrics");
  assert.deepEqual([metrics.status, metrics.body], [200, "m 1\n"]);
  assert.equal(metrics.headers.get("content-type"), "text/plain; version=0.0.4");
  assert.deepEqual(JSON.parse((await a.fetch("/status")).body), { version: "v1" });
  assert.equal((await a.fetch("/metrics", { method: "POST" })).status, 405);
  assert.equal((await a.fetch("/status", { method: "DELETE" })).status, 405);
  assert.equal((await a.fetch("/reload")).status, 405, "GET does not reload");
  const reloaded = await a.fetch("/reload", { method: "POST" });
  assert.equal(reloaded.status, 200);
  assert.equal(JSON.parse(reloaded.body).version, "v2");
  ok = false;
  assert.equal((await a.fetch("/reload", { method: "POST" })).status, 422, "refused reload");
  const missing = await a.fetch("/nope");
  assert.equal(missing.status, 404);
  assert.match(missing.body, /\/healthz, \/readyz, \/metrics, \/status, POST \/reload/);
});

Deno.test("admin: a bearer token guards every path but the probes, compared exactly", async () => {
  await using a = admin({ token: bearer("s3cret") });
  const header = (value: string) => ({ headers: { authorization: value } });
  const none = await a.fetch("/status");
  assert.equal(none.status, 401);
  assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="gatehouse-admin"');
  for (
    const wrong of ["Bearer s3cre", "Bearer s3cretX", "Bearer S3CRET", "Basic s3cret", "s3cret"]
  ) {
    assert.equal((await a.fetch("/status", header(wrong))).status, 401, wrong);
  }
  assert.equal((await a.fetch("/reload", { method: "POST" })).status, 401);
  assert.equal(a.reloads.length, 0, "no reload without the token");
  assert.equal((await a.fetch("/status", header("Bearer s3cret"))).status, 200);
  assert.equal((await a.fetch("/metrics", header("Bearer  s3cret "))).status, 200, "trimmed");
  assert.equal((await a.fetch("/healthz")).status, 200);
  assert.equal((await a.fetch("/readyz")).status, 200);
  assert.deepEqual(a.refusals, Array(7).fill("unauthorized"), "each refusal reported");
});

Deno.test("admin: a refused token is logged; a wrong method or a draining probe is no refusal", async () => {
  await using logs = await captureLog("admin");
  let draining = false;
  await using a = admin({ token: bearer("s3cret"), draining: () => draining });
  assert.equal((await a.fetch("/status")).status, 401);
  assert.match(
    logs.records.map(logText).join("\n"),
    /The admin endpoint refused a request from 127\.0\.0\.1: 401 no or a wrong bearer token/,
  );
  const auth = { authorization: "Bearer s3cret" };
  assert.equal((await a.fetch("/status", { method: "POST", headers: auth })).status, 405);
  draining = true;
  assert.equal((await a.fetch("/readyz")).status, 503);
  assert.deepEqual(a.refusals, ["unauthorized"]);
});

Deno.test("admin: a token that cannot be read closes the API, not the probes", async () => {
  await using a = admin({ token: () => ({ kind: "unavailable", reason: "GH_X is not set" }) });
  const refused = await a.fetch("/metrics", { headers: { authorization: "Bearer anything" } });
  assert.equal(refused.status, 503);
  assert.equal(refused.body, "GH_X is not set: every admin path but the probes is refused\n");
  assert.equal((await a.fetch("/healthz")).status, 200);
  assert.deepEqual(a.refusals, ["token_unavailable"]);
});

Deno.test("readAdminToken: none, set, unset or empty", () => {
  const name = "GH_ADMIN_SERVER_TEST_TOKEN";
  assert.deepEqual(readAdminToken(null), { kind: "none" });
  Deno.env.delete(name);
  assert.deepEqual(readAdminToken(name), {
    kind: "unavailable",
    reason: `admin.token_env names ${name}, which is not set`,
  });
  Deno.env.set(name, "");
  assert.equal(readAdminToken(name).kind, "unavailable");
  Deno.env.set(name, "t0ken");
  assert.deepEqual(readAdminToken(name), { kind: "bearer", value: "t0ken" });
  Deno.env.delete(name);
});

Deno.test("admin: a taken address fails with what to change", async () => {
  await using first = admin();
  assert.throws(
    () => startAdmin({ hostname: "127.0.0.1", port: first.port }, {} as AdminDeps),
    (err: Error) =>
      err.message.startsWith(`Cannot listen on 127.0.0.1:${first.port} for the admin API: `) &&
      err.message.endsWith(`(change admin.address, or set it to "off")`),
  );
});

Deno.test("admin: a malformed request gets 400 and a log line, and the endpoint answers on", async () => {
  await using logs = await captureLog("admin");
  await using a = admin();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: a.port });
  try {
    await writeAll(conn, "GET /metrics HTTP/1.1\r\nHost: admin\r\nBad Name: x\r\n\r\n");
    assert.equal((await readResponse(new WireReader(conn))).status, 400);
  } finally {
    conn.close();
  }
  assert.match(
    logs.records.map(logText).join("\n"),
    /The admin endpoint refused a request from 127\.0\.0\.1: 400 /,
  );
  assert.equal((await a.fetch("/healthz")).status, 200);
  assert.deepEqual(a.refusals, ["malformed"]);
});
