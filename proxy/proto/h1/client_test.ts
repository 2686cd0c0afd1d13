import assert from "node:assert/strict";
import { HeaderList } from "../header_list.ts";
import type { BodyReader } from "../message.ts";
import { BufferedConn } from "../../net/buffered_conn.ts";
import { headBuffers } from "../../net/buffer_pool.ts";
import { givenBack } from "../../testing/buffers.ts";
import { type ConnLease, exchange } from "./client.ts";
import { waitFor } from "../../testing/servers.ts";

/**
 * An upstream that answers as soon as a request head is in (before its body), keeping the
 * connection open; `received` collects every byte it read.
 */
function earlyAnswerUpstream() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let received = "";
  const served = (async () => {
    const conn = await listener.accept();
    const buf = new Uint8Array(4096);
    let answered = false;
    while (true) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      received += new TextDecoder().decode(buf.subarray(0, n));
      if (!answered && received.includes("\r\n\r\n")) {
        answered = true;
        await conn.write(
          new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        );
      }
    }
    conn.close();
  })();
  return {
    port: listener.addr.port,
    received: () => received,
    async close() {
      listener.close();
      await served;
    },
  };
}

Deno.test("a body that ends short of its length never leaves its connection reusable", async () => {
  const up = earlyAnswerUpstream();
  const io = new BufferedConn(await Deno.connect({ hostname: "127.0.0.1", port: up.port }));
  let released: boolean | null = null;
  const lease: ConnLease = {
    io,
    reused: false,
    setDeadline() {},
    release(reusable) {
      released = reusable;
      if (!reusable) io.close();
    },
  };
  // Says 10 bytes, ends after 5: what Deno does with an HTTP/2 body whose client went away.
  const parts = [new TextEncoder().encode("hello")];
  const body: BodyReader = {
    length: 10,
    read: () => Promise.resolve(parts.shift() ?? null),
    cancel() {},
  };
  // Depending on which comes first, the upstream's answer or the end of the short body, the
  // exchange answers or fails; either way the connection is closed, never reused.
  try {
    const res = await exchange(lease, {
      method: "POST",
      target: "/",
      host: "a.test",
      headers: new HeaderList(),
      body,
    }, {
      responseHeaderMs: 0,
      bodyIdleMs: 0,
      maxHeaderBytes: 4096,
      signal: new AbortController().signal,
    });
    while ((await res.body!.read()) !== null);
  } catch {
    // the connection closed before the answer was read
  }
  await waitFor(() => released !== null, "the lease to be released");
  assert.equal(released, false);
  await up.close(); // returns once the upstream saw its connection closed
  assert.equal(up.received(), "POST / HTTP/1.1\r\nhost: a.test\r\ncontent-length: 10\r\n\r\nhello");
});

Deno.test("a request head goes out of a pooled buffer, given back after the write", async () => {
  const up = earlyAnswerUpstream();
  const io = new BufferedConn(await Deno.connect({ hostname: "127.0.0.1", port: up.port }));
  try {
    const returned = await givenBack(headBuffers, async () => {
      const lease: ConnLease = { io, reused: false, setDeadline() {}, release: () => io.close() };
      const res = await exchange(lease, {
        method: "GET",
        target: "/pooled",
        host: "a.test",
        headers: new HeaderList(),
        body: null,
      }, {
        responseHeaderMs: 0,
        bodyIdleMs: 0,
        maxHeaderBytes: 4096,
        signal: new AbortController().signal,
      });
      while ((await res.body!.read()) !== null);
    });
    assert.equal(returned.length, 1);
    assert.ok(returned[0].startsWith("GET /pooled HTTP/1.1\r\n"), returned[0]);
  } finally {
    io.close();
    await up.close();
  }
});
