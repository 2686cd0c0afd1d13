/**
 * Every refusal is answered in plain text, written to the access log with its reason and counted
 * in gatehouse_requests_rejected_total{entrypoint,reason}; header fields named with "_" follow
 * forwarding.header_underscores and the dropped ones are counted.
 */
import assert from "node:assert/strict";
import { startGatehouse } from "../testing/gatehouse.ts";
import { spawnProxy } from "../testing/process.ts";
import { parseExposition, sampleValue } from "../testing/prometheus.ts";
import { connect, proxyFor, yaml } from "../testing/proxy.ts";
import { waitFor } from "../testing/servers.ts";
import { message, okUpstream, received, upstreamBytes } from "../testing/upstream_bytes.ts";
import { readResponse, type WireResponse } from "../testing/wire.ts";

/** Sends `request` on a new connection to `port` and reads the answer. */
async function send(port: number, request: string): Promise<WireResponse> {
  using c = await connect(port);
  await c.send(request);
  return await readResponse(c.reader);
}

const REFUSED: [string, string][] = [
  ["bare_cr", "GET / HTTP/1.1\rHost: a.test\r\r"],
  ["content_length", message(["POST / HTTP/1.1", "Host: a.test", "Content-Length: 1, 2"], "ab")],
  ["host_missing", message(["GET / HTTP/1.1"])],
  ["connect", message(["CONNECT a.test:443 HTTP/1.1", "Host: a.test:443"])],
  ["trace", message(["TRACE / HTTP/1.1", "Host: a.test"])],
  ["method_override", message(["GET / HTTP/1.1", "Host: a.test", "X-HTTP-Method: DELETE"])],
];

Deno.test("refusals and dropped fields are counted by entrypoint and reason", async () => {
  await using up = okUpstream();
  await using gh = await startGatehouse(
    yaml`
      entrypoints:
        web: { address: "127.0.0.1:0" }
      routes: [{ service: app }]
      services:
        app: { servers: [${up.url}] }
      admin: { address: "127.0.0.1:0" }
    `,
    false,
  );
  for (const [reason, request] of [...REFUSED, REFUSED[0]]) {
    const res = await send(gh.port(), request);
    assert.ok(res.status === 400 || res.status === 405, reason);
  }
  const underscores = ["GET / HTTP/1.1", "Host: a.test", "X_A: 1", "X_B: 2", "Content_Type: x"];
  assert.equal((await send(gh.port(), message(underscores))).status, 200);
  const samples = await parseExposition(await (await fetch(gh.admin("/metrics"))).text());
  const rejected = (reason: string) =>
    sampleValue(samples, "gatehouse_requests_rejected_total", { entrypoint: "web", reason });
  assert.deepEqual(REFUSED.map(([reason]) => rejected(reason)), [2, 1, 1, 1, 1, 1]);
  assert.equal(
    sampleValue(samples, "gatehouse_request_headers_dropped_total", { entrypoint: "web" }),
    3,
  );
  // Refusals are requests answered: they count among the entrypoint's requests too.
  const requests = samples.filter((s) =>
    s.name === "gatehouse_entrypoint_requests_total" && s.labels.code === "400"
  ).reduce((sum, s) => sum + s.value!, 0);
  assert.equal(requests, 5);
});

Deno.test("a refusal writes one access log line with its reason", async () => {
  await using up = okUpstream();
  await using gw = await spawnProxy((port) =>
    yaml`
      entrypoints:
        web: { address: "127.0.0.1:${port}" }
      routes: [{ service: app }]
      services:
        app: { servers: [${up.url}] }
      admin: { address: off }
    `
  );
  for (const [, request] of REFUSED) await send(gw.port, request);
  const lines = () =>
    gw.stdout().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  await waitFor(() => lines().length >= REFUSED.length, "the access log lines");
  // Each request has its own connection, which any worker isolate may serve: the lines of
  // different workers come in no set order.
  const byReason = (a: unknown[], b: unknown[]) => String(a[0]).localeCompare(String(b[0]));
  assert.deepEqual(
    lines().map((r) => [r.reason, r.status, r.entrypoint]).sort(byReason),
    REFUSED.map((
      [reason],
    ) => [reason, reason === "connect" || reason === "trace" ? 405 : 400, "web"])
      .sort(byReason),
  );
  assert.equal(
    lines().find((r) => r.reason === "content_length")?.error,
    "conflicting content-length values",
  );
});

Deno.test('forwarding.header_underscores: "reject" refuses, "pass" forwards as sent', async () => {
  const request = message(["GET / HTTP/1.1", "Host: a.test", "X-Request-Id: t", "X_User: a"]);
  await using up = okUpstream();
  {
    await using gw = await proxyFor([up.url], {
      config: "forwarding: { header_underscores: reject }\n",
    });
    const res = await send(gw.port(), request);
    assert.equal(res.status, 400);
    assert.equal(res.text, '400 Bad Request: header names with "_" are refused\n');
    assert.equal(gw.outcomes.at(-1)?.reason, "underscore_header");
    assert.equal(up.requests.length, 0);
  }
  {
    await using gw = await proxyFor([up.url], {
      config: "forwarding: { header_underscores: pass }\n",
    });
    assert.equal((await send(gw.port(), request)).status, 200);
    assert.equal(
      received(up.requests[0]),
      upstreamBytes("http", { host: "a.test", fields: ["X-Request-Id: t", "X_User: a"] }),
    );
  }
});

Deno.test('forwarding.method_override: "refuse" (default) is a 400, "pass" forwards as sent', async () => {
  const request = message([
    "POST /a HTTP/1.1",
    "Host: a.test",
    "X-Request-Id: t",
    "X-HTTP-Method-Override: DELETE",
    "Content-Length: 0",
  ]);
  await using up = okUpstream();
  {
    await using gw = await proxyFor([up.url]);
    const res = await send(gw.port(), request);
    assert.equal(res.status, 400);
    assert.match(res.text, /^400 Bad Request: a method override field/);
    assert.equal(gw.outcomes.at(-1)?.reason, "method_override");
    assert.equal(up.requests.length, 0);
  }
  {
    // With "_" names passed on, X_HTTP_METHOD_OVERRIDE counts: CGI-style servers read it as the
    // same field.
    await using gw = await proxyFor([up.url], {
      config: "forwarding: { header_underscores: pass }\n",
    });
    const underscored = request.replace("X-HTTP-Method-Override", "X_HTTP_METHOD_OVERRIDE");
    assert.equal((await send(gw.port(), underscored)).status, 400);
    assert.equal(up.requests.length, 0);
  }
  {
    await using gw = await proxyFor([up.url], {
      config: "forwarding: { method_override: pass }\n",
    });
    assert.equal((await send(gw.port(), request)).status, 200);
    assert.equal(
      received(up.requests[0]),
      upstreamBytes("http", {
        method: "POST",
        target: "/a",
        host: "a.test",
        fields: ["X-Request-Id: t", "X-HTTP-Method-Override: DELETE"],
        framing: "content-length: 0",
      }),
    );
  }
});
