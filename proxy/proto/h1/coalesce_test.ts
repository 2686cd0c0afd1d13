/**
 * Deno cannot disable Nagle's algorithm on TLS connections, so a response written as several
 * small writes stalls about 40 ms on the client's delayed ACK. These tests send keep-alive
 * requests over TLS whose responses stream (length-framed and chunked): 20 of them would take
 * at least 800 ms with one stall each, and take a few milliseconds each when the head, the body
 * and the terminator go out together. The bound leaves a wide margin for a loaded machine.
 *
 * Chunks adjacent in one buffer (an HTTP/2 body's frames) go out as one view of it, not copied.
 */
import assert from "node:assert/strict";
import { connect, proxyFor } from "../../testing/proxy.ts";
import { httpUpstream } from "../../testing/servers.ts";
import { readResponse } from "../../testing/wire.ts";
import { streamBody } from "./coalesce.ts";
import type { BodyReader } from "../message.ts";

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

Deno.test("chunks adjacent in one buffer are written as one view of it, not joined", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  using peer = await accepted;
  const source = new Uint8Array(48 * 1024).map((_, i) => i & 0xff);
  // The first frame, then (after a pause) two more queued end to end behind it.
  const ready: (Uint8Array | null | undefined)[] = [
    source.subarray(0, 16_384),
    undefined,
    source.subarray(16_384, 32_768),
    source.subarray(32_768),
    null,
  ];
  const body: BodyReader = {
    length: source.length,
    read: () => Promise.resolve(ready.shift() ?? null),
    readNow: () => ready.shift(),
    cancel: () => {},
  };
  const writes: Uint8Array[] = [];
  const counted = {
    read: (p: Uint8Array) => conn.read(p),
    write: (p: Uint8Array) => (writes.push(p), conn.write(p)),
    closeWrite: () => conn.closeWrite(),
    close: () => conn.close(),
  };
  const head = new TextEncoder().encode("HEAD\r\n\r\n");
  const received = new Response(peer.readable).bytes();
  await streamBody(counted, body, { prefix: head, chunked: false });
  await conn.closeWrite();
  const bytes = await received;
  assert.equal(bytes.length, head.length + source.length);
  assert.deepEqual(bytes.subarray(head.length), source);
  assert.equal(writes.length, 2, "the head with the first frame, then the two queued ones");
  assert.equal(writes[1].buffer, source.buffer, "written from the body's own buffer");
  assert.equal(writes[1].length, 32_768);
});

Deno.test("streamBody releases the body once, after its last bytes are written", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  using peer = await accepted;
  for (const chunked of [false, true]) {
    const ready: (Uint8Array | null | undefined)[] = [new Uint8Array(5000), undefined, null];
    let written = 0;
    const releasedAfter: number[] = [];
    const body: BodyReader = {
      length: chunked ? -1 : 5000,
      read: () => Promise.resolve(ready.shift() ?? null),
      readNow: () => ready.shift(),
      cancel: () => {},
      release: () => void releasedAfter.push(written),
    };
    const counted = {
      read: (p: Uint8Array) => conn.read(p),
      write: async (p: Uint8Array) => (written += await conn.write(p)),
      closeWrite: () => conn.closeWrite(),
      close: () => conn.close(),
    };
    const draining = peer.read(new Uint8Array(64 * 1024));
    const { wire } = await streamBody(counted, body, { prefix: new Uint8Array(10), chunked });
    await draining;
    assert.deepEqual(releasedAfter, [wire], `chunked: ${chunked}`);
  }
});
