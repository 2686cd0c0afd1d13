/**
 * A client that stops taking a response's bytes (a slow-read attack, or a dead peer behind a
 * full window) holds its connection at most timeouts.body_idle, on HTTP/1.1 and HTTP/2 alike:
 * curl, writing into a pipe nobody reads, stops reading its socket once the pipe is full.
 */
import assert from "node:assert/strict";
import { startProxy, yaml } from "../testing/proxy.ts";
import { httpUpstream, waitFor } from "../testing/servers.ts";

const BIG = new Uint8Array(64 * 1024 * 1024);

for (const http2 of [false, true]) {
  const name = http2 ? "HTTP/2 (h2c)" : "HTTP/1.1";
  Deno.test(`${name}: a client that takes no byte of a response for body_idle is closed`, async () => {
    await using up = httpUpstream(() => new Response(BIG));
    await using gw = await startProxy(yaml`
      entrypoints:
        web: { address: "127.0.0.1:0" }
      timeouts: { body_idle: 1s, keep_alive_idle: 1h }
      routes: [{ service: app, timeouts: { body_idle: 1h } }]
      services:
        app: { servers: [${up.url}] }
    `);
    // stdout piped and never read: once the pipe is full, curl stops reading the socket.
    const client = new Deno.Command("curl", {
      args: ["-s", http2 ? "--http2-prior-knowledge" : "--http1.1", gw.url("/")],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    try {
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
    } finally {
      client.kill();
      await client.stdout.cancel();
      await client.status;
    }
  });
}
