import assert from "node:assert/strict";
import { connect, proxyFor } from "../../testing/proxy.ts";
import { httpUpstream, waitFor } from "../../testing/servers.ts";
import { field, readResponse } from "../../testing/wire.ts";
import type { ByteConn } from "../../net/buffered_conn.ts";
import { headBuffers } from "../../net/buffer_pool.ts";
import { givenBack } from "../../testing/buffers.ts";
import type { BodyReader, Handler } from "../message.ts";
import { proxyResponse } from "../responses.ts";
import { serveWithEngine } from "../../testing/h1_engine.ts";
import { readToEnd, text, within, writeAll } from "../../testing/tcp_peers.ts";

Deno.test("an absolute-form target is accepted: its authority replaces Host", async () => {
  await using up = httpUpstream((req) =>
    new Response(
      `${new URL(req.url).pathname}${new URL(req.url).search} ${req.headers.get("host")}`,
    )
  );
  await using gw = await proxyFor([up.url]);
  using client = await connect(gw.port("web"));
  await client.send("GET http://App.Test:8080/a/b?c=d HTTP/1.1\r\nhost: ignored.test\r\n\r\n");
  const res = await readResponse(client.reader);
  assert.equal(res.status, 200);
  assert.equal(new TextDecoder().decode(res.body), "/a/b?c=d app.test:8080");
  await client.send("GET http://app.test?x=1 HTTP/1.1\r\nhost: app.test\r\n\r\n");
  assert.equal(
    new TextDecoder().decode((await readResponse(client.reader)).body),
    "/?x=1 app.test",
  );
  assert.equal(gw.outcomes[0].host, "app.test:8080");
});

Deno.test("a connection whose request body failed says Connection: close before closing", async () => {
  await using up = httpUpstream(async (req) => new Response(await req.text()));
  await using gw = await proxyFor([up.url], { route: "max_body: 10B" });
  using client = await connect(gw.port("web"));
  await client.send(
    "POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n" +
      "10\r\n0123456789abcdef\r\n0\r\n\r\n",
  );
  const res = await readResponse(client.reader);
  assert.equal(res.status, 413);
  assert.equal(field(res, "connection"), "close");
});

/**
 * Serves the first connection to a loopback listener with the real HTTP/1.1 engine and `handler`,
 * counting the reads in flight on it.
 */
function serveOne(handler: Handler) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const state = { reading: 0 };
  const served = (async () => {
    const raw = await listener.accept();
    const conn: ByteConn = {
      read: async (p) => {
        state.reading++;
        try {
          return await raw.read(p);
        } finally {
          state.reading--;
        }
      },
      write: (p) => raw.write(p),
      closeWrite: () => raw.closeWrite(),
      close: () => raw.close(),
    };
    await serveWithEngine(conn, () => raw.close(), handler);
  })();
  return {
    port: listener.addr.port,
    reading: () => state.reading,
    async [Symbol.asyncDispose]() {
      await served;
      listener.close();
    },
  };
}

Deno.test("the client watch starts only for an exchange still running at the next sweep", async () => {
  // A read in flight on the client connection notices the client closing; a fast exchange must
  // not pay for one (it costs every request CPU), a slow one must get one.
  const during: Record<string, number> = {};
  await using server = serveOne(async (req) => {
    during[req.target] = server.reading();
    if (req.target === "/slow") {
      await waitFor(() => server.reading() === 1, "a sweep to start the client watch");
      during["/slow, later"] = server.reading();
    }
    return proxyResponse(200, "ok");
  });
  using client = await connect(server.port);
  for (const target of ["/fast", "/slow"]) {
    await client.send(`GET ${target} HTTP/1.1\r\nhost: a\r\n\r\n`);
    assert.equal((await readResponse(client.reader)).status, 200);
  }
  assert.deepEqual(during, { "/fast": 0, "/slow": 0, "/slow, later": 1 });
  client.close();
});

Deno.test("response heads and small responses go out of pooled buffers, given back after the write", async () => {
  const returned = await givenBack(headBuffers, async () => {
    await using server = serveOne((req) => {
      const res = proxyResponse(200, "ok");
      if (req.target === "/bytes") return Promise.resolve(res);
      // A streamed body: its head and first chunk are joined into one write.
      const chunk = res.body as Uint8Array;
      let sent = false;
      const body: BodyReader = {
        length: chunk.length,
        read: () => Promise.resolve(sent ? null : (sent = true, chunk)),
        readNow: () => sent ? null : (sent = true, chunk),
        cancel() {},
      };
      return Promise.resolve({ ...res, body });
    });
    using client = await connect(server.port);
    for (const target of ["/bytes", "/streamed"]) {
      await client.send(`GET ${target} HTTP/1.1\r\nhost: a\r\n\r\n`);
      assert.equal(new TextDecoder().decode((await readResponse(client.reader)).body), "ok");
    }
    client.close();
  });
  // The bytes response: one buffer; the streamed one: its head, and the join of head and body.
  assert.equal(returned.length, 2, "buffers given back");
  for (const text of returned) assert.ok(text.startsWith("HTTP/1.1 200 OK"), text);
});

Deno.test("after a refusal the connection reads and drops what the client still sends (lingering close)", async () => {
  await using server = serveOne(() => Promise.resolve(proxyResponse(200)));
  const client = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await writeAll(
    client,
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
  );
  // The answer, then the end of the server's side, while the client's side is still open.
  const answer = text(await within(5000, "the refusal and its end", readToEnd(client)));
  assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
  // What the client goes on sending (an upload it had started, say) is read and dropped, not
  // answered with a reset that could destroy the answer on the client's side.
  const chunk = new Uint8Array(16 * 1024);
  for (let i = 0; i < 32; i++) await writeAll(client, chunk);
  client.close();
});

Deno.test("a lingering close ends after 1 MiB of what the client sends", async () => {
  await using server = serveOne(() => Promise.resolve(proxyResponse(200)));
  const client = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await writeAll(client, "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n");
  assert.match(text(await readToEnd(client)), /^HTTP\/1\.1 501 /);
  const chunk = new Uint8Array(64 * 1024);
  await assert.rejects(async () => {
    for (let i = 0; i < 1024; i++) await writeAll(client, chunk);
  });
  client.close();
});

Deno.test("blank lines before a request are skipped and do not extend the wait for it", async () => {
  // RFC 9112 2.2: a server should ignore blank lines before a request line. They are not the
  // start of a request either: a client that sends only blank lines is still closed when the
  // time for its first request (header_read) is up, not given that time again with each one.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const raw of listener) {
      served.push(
        serveWithEngine(raw, () => raw.close(), () => Promise.resolve(proxyResponse(200, "ok")), {
          headerReadMs: 400,
        }),
      );
    }
  })();
  try {
    using client = await connect(listener.addr.port);
    await client.send("\r\n\r\nGET / HTTP/1.1\r\nhost: a\r\n\r\n\r\n");
    assert.equal((await readResponse(client.reader)).status, 200);
    await client.send("GET /again HTTP/1.1\r\nhost: a\r\n\r\n");
    assert.equal((await readResponse(client.reader)).status, 200);

    const dribbler = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const started = performance.now();
    const sending = (async () => {
      try {
        while (performance.now() - started < 3000) {
          await dribbler.write(new TextEncoder().encode("\r\n"));
          await new Promise((r) => setTimeout(r, 100));
        }
      } catch {
        // closed by the server, as it should be
      }
    })();
    await within(2000, "the dribbling client to be closed", readToEnd(dribbler));
    await sending;
    dribbler.close();
  } finally {
    listener.close();
    await accepting;
    await Promise.allSettled(served);
  }
});
