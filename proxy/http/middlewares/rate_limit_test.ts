import assert from "node:assert/strict";
import { requestsPerWorker, startGatehouse } from "../../testing/gatehouse.ts";
import { yaml } from "../../testing/proxy.ts";
import { httpUpstream, waitFor } from "../../testing/servers.ts";
import { middlewareProxy, PROTOCOLS, request } from "./test_helpers.ts";

for (const version of PROTOCOLS) {
  Deno.test(`rate_limit: burst passes, then 429 with Retry-After and RateLimit fields (HTTP/${version})`, async () => {
    await using up = httpUpstream();
    await using gw = await middlewareProxy(up.url, {
      middlewares: "login: { rate_limit: { average: 3, period: 1m } }",
      route: "middlewares: [login]",
    });
    for (const left of [2, 1, 0]) {
      const res = await request(gw, version, "/login");
      assert.equal(res.status, 200);
      await res.body?.cancel();
      assert.equal(res.headers.get("ratelimit-policy"), `"login";q=3;w=60`);
      assert.match(res.headers.get("ratelimit")!, new RegExp(`^"login";r=${left};t=(\\d+)$`));
    }
    const refused = await request(gw, version, "/login");
    assert.equal(refused.status, 429);
    assert.equal(await refused.text(), "429 Too Many Requests: slow down and try again later\n");
    const wait = Number(refused.headers.get("retry-after"));
    assert.ok(wait >= 19 && wait <= 20, `Retry-After ${wait}`);
    assert.match(refused.headers.get("ratelimit")!, /^"login";r=0;t=(59|60)$/);
    assert.equal(up.requests.length, 3);
    await waitFor(() => gw.outcomes.length === 4, "four access records");
    assert.equal(gw.outcomes[3].middleware, "login");
    assert.equal(gw.outcomes[3].middlewareReason, "rate_limited");
  });
}

Deno.test("rate_limit by header: one bucket per value, the client address without it", async () => {
  await using up = httpUpstream();
  await using gw = await middlewareProxy(up.url, {
    middlewares: "api: { rate_limit: { average: 1, period: 1h, key: header:X-Api-Key } }",
    route: "middlewares: [api]",
  });
  const status = async (key?: string) => {
    const res = await fetch(gw.url("/"), { headers: key ? { "x-api-key": key } : {} });
    await res.body?.cancel();
    return res.status;
  };
  assert.deepEqual(
    [await status("a"), await status("a"), await status("b"), await status(), await status()],
    [200, 429, 200, 200, 429],
  );
  // A value longer than 64 characters is kept as its digest: still one bucket per value.
  const long = "k".repeat(5000);
  assert.deepEqual([await status(long), await status(long), await status(long + "x")], [
    200,
    429,
    200,
  ]);
});

for (const workers of [1, 2]) {
  Deno.test(`a reload keeps the buckets of an unchanged rate_limit, and resets a changed one (workers: ${workers})`, async () => {
    await using up = httpUpstream();
    const config = (average: number, other: string) =>
      yaml`
      entrypoints: { web: { address: "127.0.0.1:0" } }
      admin: { address: off }
      middlewares:
        login: { rate_limit: { average: ${average}, period: 1h } }
        other: { headers: { response: { set: { x-version: "${other}" } } } }
      routes: [{ service: app, middlewares: [other, login] }]
      services: { app: { servers: [${up.url}] } }
    `;
    await using gh = await startGatehouse(config(5, "one"), false, workers);
    /** `n` requests one after the other, each on a connection of its own (either worker). */
    const get = async (n: number) => {
      const seen = new Map<string, number>();
      for (let i = 0; i < n; i++) {
        const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
        const res = await fetch(`http://127.0.0.1:${gh.port()}/`, { client });
        await res.body?.cancel();
        client.close();
        const answer = `${res.status} ${res.headers.get("x-version")}`;
        seen.set(answer, (seen.get(answer) ?? 0) + 1);
      }
      return Object.fromEntries(seen);
    };
    assert.deepEqual(await get(6), { "200 one": 5, "429 one": 1 });
    await Deno.writeTextFile(gh.file, config(5, "two"));
    assert.equal((await gh.gatehouse.reload("test")).ok, true);
    assert.deepEqual(await get(4), { "429 two": 4 });
    await Deno.writeTextFile(gh.file, config(6, "two"));
    assert.equal((await gh.gatehouse.reload("test")).ok, true);
    assert.deepEqual(await get(7), { "200 two": 6, "429 two": 1 });
    const counts = await requestsPerWorker(gh);
    assert.ok(counts.length === workers && counts.every((n) => n > 0), `served: ${counts}`);
  });
}

Deno.test("rate_limit is global across workers (workers: 2)", async () => {
  await using up = httpUpstream();
  await using gh = await startGatehouse(
    yaml`
    entrypoints: { web: { address: "127.0.0.1:0" } }
    admin: { address: off }
    middlewares:
      login: { rate_limit: { average: 10, period: 1h } }
    routes: [{ service: app, middlewares: [login] }]
    services: { app: { servers: [${up.url}] } }
  `,
    false,
    2,
  );
  // Separate connections, so the kernel spreads them over both workers' listeners.
  const statuses: number[] = [];
  for (let i = 0; i < 40; i++) {
    const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
    const res = await fetch(`http://127.0.0.1:${gh.port()}/`, { client });
    await res.body?.cancel();
    client.close();
    statuses.push(res.status);
  }
  const counts = await requestsPerWorker(gh);
  assert.ok(counts.length === 2 && counts.every((n) => n > 0), `both workers served: ${counts}`);
  assert.equal(statuses.filter((s) => s === 200).length, 10);
  assert.equal(up.requests.length, 10);
});
