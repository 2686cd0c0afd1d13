import assert from "node:assert/strict";
import { captureLog, logText } from "../testing/logs.ts";
import { connect, proxyFor, startProxy } from "../testing/proxy.ts";
import { readResponse } from "../testing/wire.ts";
import { closedPort, httpUpstream, waitFor } from "../testing/servers.ts";
import { PHASES } from "./pipeline.ts";

Deno.test("the phases run in the documented order", async () => {
  const doc = await Deno.readTextFile(new URL("./pipeline.ts", import.meta.url));
  const documented = /\* {3}(checks ->[^]*?upstream)\n/.exec(doc)![1].split(/\s*->\s*|\s*\*\s*/)
    .filter((name) => name !== "");
  assert.deepEqual(PHASES.map((p) => p.name), documented);
  assert.equal(new Set(PHASES.map((p) => p.name)).size, PHASES.length);
});

Deno.test("an exception inside the pipeline is a 500 with an access line, a log line and a source", async () => {
  await using log = await captureLog("pipeline");
  await using gw = await startProxy(
    `
    entrypoints: { web: { address: "127.0.0.1:0" } }
    routes: [{ match: { path: /metrics }, service: metrics@internal }]
  `,
    {
      internal: new Map([["metrics@internal", () => {
        throw new Error("a bug in a built-in service");
      }]]),
    },
  );
  const res = await fetch(gw.url("/metrics"));
  assert.equal(res.status, 500);
  assert.equal(await res.text(), "500 Internal Server Error\n");
  await waitFor(() => gw.outcomes.length === 1, "the access record");
  const [record] = gw.outcomes;
  assert.equal(record.status, 500);
  assert.equal(record.source, "gatehouse");
  assert.equal(record.error, "internal error: a bug in a built-in service");
  const lines = log.records.filter((r) => r.level === "error").map(logText);
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(lines[0], /failed inside Gatehouse: Error: a bug in a built-in service\n\s+at /);
});

Deno.test("every failure is noted with whose it was, and the status its source calls for", async () => {
  await using up = httpUpstream(() => new Response("ok"));
  await using gw = await proxyFor([up.url], { route: "max_body: 4B" });
  await using refused = await proxyFor([`http://127.0.0.1:${closedPort()}`]);
  const cases: [string, RequestInit | string, number, string | null, string | null][] = [
    [gw.url("/"), {}, 200, null, null],
    [gw.url("/"), { method: "POST", body: "too long" }, 413, "client", null],
    [
      gw.url("/"),
      "CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n",
      405,
      "client",
      "connect",
    ],
    [refused.url("/"), {}, 502, "upstream", null],
  ];
  for (const [url, init, status] of cases) {
    if (typeof init === "string") {
      using raw = await connect(Number(new URL(url).port));
      await raw.send(init);
      assert.equal((await readResponse(raw.reader)).status, status);
      continue;
    }
    const res = await fetch(url, init);
    await res.body?.cancel();
    assert.equal(res.status, status, url);
  }
  await waitFor(() => gw.outcomes.length === 3 && refused.outcomes.length === 1, "records");
  const seen = [...gw.outcomes, ...refused.outcomes].map((o) => [o.status, o.source, o.reason]);
  assert.deepEqual(seen, cases.map(([, , status, source, reason]) => [status, source, reason]));
});

Deno.test("no route is the client's 404; no available server is 503 'unavailable'", async () => {
  await using gw = await startProxy(`
    entrypoints: { web: { address: "127.0.0.1:0" } }
    routes: [{ match: { path: /app }, service: app }]
    services:
      app:
        servers: ["http://127.0.0.1:${closedPort()}"]
        health_check: { path: /h, interval: 100ms, timeout: 50ms, unhealthy_threshold: 1 }
  `);
  const nf = await fetch(gw.url("/elsewhere"));
  await nf.body?.cancel();
  assert.equal(nf.status, 404);
  await waitFor(async () => {
    const res = await fetch(gw.url("/app"));
    await res.body?.cancel();
    return res.status === 503;
  }, "the health check to take the server out");
  const last = gw.outcomes.at(-1)!;
  assert.deepEqual([gw.outcomes[0].status, gw.outcomes[0].source], [404, "client"]);
  assert.deepEqual([last.status, last.source], [503, "unavailable"]);
});
