import assert from "node:assert/strict";
import { fakeDockerApi } from "../../proxy/testing/docker_api.ts";
import { socketProxy } from "./socket_proxy.ts";

Deno.test("the socket proxy passes GET on four endpoints and refuses everything else", async () => {
  await using engine = await fakeDockerApi();
  const socket = engine.endpoint.replace("unix://", "");
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, socketProxy(socket));
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    const version = await fetch(`${base}/v1.41/version`);
    assert.deepEqual([version.status, (await version.json()).ApiVersion], [200, "1.41"]);
    const list = await fetch(`${base}/containers/json?filters=${encodeURIComponent("{}")}`);
    assert.deepEqual([list.status, await list.json()], [200, []]);

    const events = await fetch(`${base}/events`);
    const reader = events.body!.getReader();
    engine.run({ name: "app-1", labels: {} });
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.match(first, /"Action":"create"/);
    await reader.cancel();

    for (
      const [method, path] of [
        ["POST", "/containers/create"],
        ["POST", "/v1.41/containers/json"],
        ["DELETE", "/events"],
        ["DELETE", "/containers/abc"],
        ["PUT", "/containers/abc/archive"],
        ["GET", "/containers/abc/json"],
        ["GET", "/containers/abc/logs"],
        ["GET", "/v1.41/images/json"],
      ]
    ) {
      const res = await fetch(`${base}${path}`, { method, body: method === "GET" ? null : "{}" });
      assert.equal(res.status, 403, `${method} ${path}`);
      const expected = method === "GET"
        ? /^Cannot GET .*: this socket proxy forwards only \/_ping/
        : /: this socket proxy forwards GET only$/;
      assert.match((await res.json()).message, expected, `${method} ${path}`);
    }
    assert.deepEqual(engine.refused, [], "nothing refused reached the engine");
    assert.ok(engine.requests.every((r) => r.startsWith("GET ")), engine.requests.join(", "));
  } finally {
    await server.shutdown();
  }
});
