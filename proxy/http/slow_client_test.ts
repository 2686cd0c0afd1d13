/**
 * A client that stops taking a response's bytes (a slow-read attack, or a dead peer behind a
 * full window) holds its connection at most body_idle: the route's on HTTP/1.1, the top-level
 * one on HTTP/2 (a connection of many routes' streams). curl, writing into a pipe nobody reads,
 * stops reading its socket once the pipe is full.
 */
import assert from "node:assert/strict";
import { startProxy, yaml } from "../testing/proxy.ts";
import { httpUpstream, waitFor } from "../testing/servers.ts";

const BIG = new Uint8Array(64 * 1024 * 1024);

/** Runs `fn` while curl fetches `url` into a pipe nobody reads; ends curl after. */
async function withStalledCurl(url: string, http2: boolean, fn: () => Promise<void>) {
  const client = new Deno.Command("curl", {
    args: ["-s", http2 ? "--http2-prior-knowledge" : "--http1.1", url],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    await fn();
  } finally {
    client.kill();
    await client.stdout.cancel();
    await client.status;
  }
}

for (const http2 of [false, true]) {
  const name = http2 ? "HTTP/2 (h2c)" : "HTTP/1.1";
  // The bound that applies is 1 s, the other 1 h.
  const [top, route] = http2 ? ["1s", "1h"] : ["1h", "1s"];
  Deno.test(`${name}: a client that takes no byte of a response for body_idle is closed`, async () => {
    await using up = httpUpstream(() => new Response(BIG));
    await using gw = await startProxy(yaml`
      entrypoints:
        web: { address: "127.0.0.1:0" }
      timeouts: { body_idle: ${top}, keep_alive_idle: 1h }
      routes: [{ service: app, timeouts: { body_idle: ${route} } }]
      services:
        app: { servers: [${up.url}] }
    `);
    await withStalledCurl(gw.url("/"), http2, async () => {
      await waitFor(() => gw.runtime.clients.size === 1, "the client's connection", 5000);
      const started = Date.now();
      await waitFor(() => gw.runtime.clients.size === 0, "the stalled connection closed", 10_000);
      const held = Date.now() - started;
      assert.ok(held >= 900, `closed after ${held} ms, before body_idle`);
      await waitFor(() => gw.outcomes.length === 1, "the access record");
      const [record] = gw.outcomes;
      assert.equal(record.status, 200);
      assert.ok(record.bytesOut < BIG.length, `${record.bytesOut} bytes went out`);
      assert.equal(record.error, "response body not delivered");
    });
  });
}

Deno.test("HTTP/1.1: a route's longer body_idle lets its client pause longer than the top-level one", async () => {
  await using up = httpUpstream(() => new Response(BIG));
  await using gw = await startProxy(yaml`
    entrypoints:
      web: { address: "127.0.0.1:0" }
    timeouts: { body_idle: 500ms, keep_alive_idle: 1h }
    routes: [{ service: app, timeouts: { body_idle: 1h } }]
    services:
      app: { servers: [${up.url}] }
  `);
  await withStalledCurl(gw.url("/"), false, async () => {
    await waitFor(() => gw.runtime.clients.size === 1, "the client's connection", 5000);
    // A negative check needs a wait: four times the top-level bound, plus the sweep's 100 ms.
    await new Promise((resolve) => setTimeout(resolve, 2100));
    assert.equal(gw.runtime.clients.size, 1, "the paused client was cut at the top-level bound");
  });
});
