import assert from "node:assert/strict";
import { startProxy, type TestProxy, yaml } from "../../testing/proxy.ts";
import { rawResponse, rawUpstream } from "../../testing/servers.ts";
import { middlewareProxy, PROTOCOLS, request } from "./test_helpers.ts";

/** One upstream that cuts the connection of its first `failures` requests, then answers. */
function flakyUpstream(failures: number, how: "reset" | "stall" = "reset") {
  let seen = 0;
  return rawUpstream(async (_req, conn) => {
    if (seen++ < failures) {
      if (how === "reset") conn.close();
      return;
    }
    await conn.write(rawResponse(200, [], "finally"));
  });
}

function retryProxy(upstream: string, retry: string, route = ""): Promise<TestProxy> {
  return middlewareProxy(upstream, {
    middlewares: `again: { retry: { ${retry} } }`,
    route: `middlewares: [again]${route}`,
  });
}

for (const version of PROTOCOLS) {
  Deno.test(`retry: a GET reset twice succeeds on the third attempt, same server (HTTP/${version})`, async () => {
    await using up = flakyUpstream(2);
    await using gw = await retryProxy(up.url, "attempts: 3, backoff: 10ms");
    const res = await request(gw, version, "/");
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "finally");
    assert.equal(up.requests.length, 3);
    assert.equal(gw.outcomes.at(-1)?.attempts, 3);
  });
}

Deno.test("retry: attempts bound the tries; without the middleware one server is tried once", async () => {
  await using up = flakyUpstream(5);
  await using gw = await retryProxy(up.url, "attempts: 2, backoff: 1ms");
  const res = await fetch(gw.url("/"));
  assert.equal(res.status, 502);
  await res.body?.cancel();
  assert.equal(up.requests.length, 2);

  await using plainUp = flakyUpstream(1);
  await using plain = await startProxy(yaml`
    entrypoints: { web: { address: "127.0.0.1:0" } }
    routes: [{ service: app }]
    services: { app: { servers: [${plainUp.url}] } }
  `);
  const once = await fetch(plain.url("/"));
  assert.equal(once.status, 502);
  await once.body?.cancel();
  assert.equal(plainUp.requests.length, 1);
});

Deno.test("retry never repeats a POST the server may have acted on", async () => {
  await using up = flakyUpstream(1);
  await using gw = await retryProxy(up.url, "attempts: 5, backoff: 1ms");
  // Without a body (so only the method makes it unsafe), and with one.
  const res = await fetch(gw.url("/orders?item=1"), { method: "POST" });
  assert.equal(res.status, 502);
  await res.body?.cancel();
  assert.equal(up.requests.length, 1);
  await using up2 = flakyUpstream(1);
  await using gw2 = await retryProxy(up2.url, "attempts: 5, backoff: 1ms");
  const put = await fetch(gw2.url("/orders/1"), { method: "PUT", body: "one order" });
  assert.equal(put.status, 502, "PUT is idempotent, but its body went: not sent again");
  await put.body?.cancel();
  assert.equal(up2.requests.length, 1);
});

Deno.test("retry: timeouts are retried only when listed in `on`", async () => {
  const route = ", timeouts: { response_header: 200ms }";
  await using up = flakyUpstream(1, "stall");
  await using gw = await retryProxy(up.url, "attempts: 2, on: [timeout], backoff: 1ms", route);
  const res = await fetch(gw.url("/"));
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "finally");
  assert.equal(up.requests.length, 2);

  await using up2 = flakyUpstream(1, "stall");
  await using gw2 = await retryProxy(up2.url, "attempts: 2, on: [connect, reset]", route);
  const late = await fetch(gw2.url("/"));
  assert.equal(late.status, 504);
  await late.body?.cancel();
  assert.equal(up2.requests.length, 1);
});
