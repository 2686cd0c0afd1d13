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
