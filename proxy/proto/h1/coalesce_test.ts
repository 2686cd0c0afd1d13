/**
 * Deno cannot disable Nagle's algorithm on TLS connections, so a response written as several
 * small writes stalls about 40 ms on the client's delayed ACK. These tests send keep-alive
 * requests over TLS whose responses stream (length-framed and chunked): 20 of them would take
 * at least 800 ms with one stall each, and take a few milliseconds each when the head, the body
 * and the terminator go out together. The bound leaves a wide margin for a loaded machine.
 */
import assert from "node:assert/strict";
import { connect, proxyFor } from "../../testing/proxy.ts";
import { httpUpstream } from "../../testing/servers.ts";
import { writeWatched } from "./coalesce.ts";
import { readResponse } from "../../testing/wire.ts";

const REQUESTS = 20;
const STALL_FREE_MS = 600;

function streamedUpstream() {
  return httpUpstream((req) => {
    const chunked = new URL(req.url).pathname === "/chunked";
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("hello "));
        controller.enqueue(new TextEncoder().encode("world"));
        controller.close();
      },
    });
    return new Response(body, { headers: chunked ? {} : { "content-length": "11" } });
  });
}

for (const path of ["/length", "/chunked"]) {
  Deno.test(`keep-alive TLS responses (${path.slice(1)}) do not stall on Nagle`, async () => {
    await using up = streamedUpstream();
    await using gw = await proxyFor([up.url]);
    using client = await connect(gw.port("websecure"), { tls: "localhost", alpn: ["http/1.1"] });
    const ask = async () => {
      await client.send(`GET ${path} HTTP/1.1\r\nhost: localhost\r\n\r\n`);
      const res = await readResponse(client.reader);
      assert.equal(new TextDecoder().decode(res.body), "hello world");
    };
    await ask();
    const started = performance.now();
    for (let i = 0; i < REQUESTS; i++) await ask();
    const took = performance.now() - started;
    assert.ok(took < STALL_FREE_MS, `${REQUESTS} requests took ${took.toFixed(0)} ms`);
  });
}

Deno.test("writeWatched: each partial write to a slow reader restarts the bound; done, it is off", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const writer = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const reader = await listener.accept();
  const watch = { writeDeadline: 0, writeIdleMs: 1000 };
  const done = writeWatched(writer, new Uint8Array(16 * 1024 * 1024), watch);
  // As the registry's sweep does: each start since the last look gets a deadline (here, 1).
  let starts = 0;
  const sweep = setInterval(() => {
    if (watch.writeDeadline === -1) {
      starts++;
      watch.writeDeadline = 1;
    }
  }, 5);
  const buf = new Uint8Array(256 * 1024);
  let read = 0;
  while (read < 16 * 1024 * 1024) {
    read += (await reader.read(buf)) ?? 0;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await done;
  clearInterval(sweep);
  writer.close();
  reader.close();
  assert.ok(starts >= 2, `the bound restarted ${starts} times`);
  assert.equal(watch.writeDeadline, 0);
});
