/**
 * The engine's client side against its own server (proxy/testing/h2_server.ts) over TLS and h2c:
 * requests and trailers both ways, 8 MiB each way through 16 KiB windows, more requests than the
 * server's stream limit (queued, then all served), cancellation, GOAWAY and refused streams as
 * retryable failures, and a clear error for a server that is not HTTP/2.
 */
import assert from "node:assert/strict";
import { HeaderList } from "../header_list.ts";
import { type BodyReader, readWhole } from "../message.ts";
import { connectH2, type H2ClientConnection, type H2ClientOptions } from "./client.ts";
import { ErrorCode, H2ConnectionClosedError, H2StreamResetError } from "./errors.ts";
import { decodeFrame, encodeFrame, FrameType } from "./frames.ts";
import { HpackEncoder } from "./hpack/encoder.ts";
import { GROWTH_BUDGET, MAX_STREAM_WINDOW, windowGrowth } from "./flow.ts";
import { concatBytes } from "../../bytes.ts";
import { h2TestServer, type H2TestServerOptions, patternBody } from "../../testing/h2_server.ts";
import { waitFor } from "../../testing/servers.ts";

async function open(
  serverOptions: H2TestServerOptions,
  clientOptions: H2ClientOptions = {},
) {
  const server = await h2TestServer(serverOptions);
  const tls = serverOptions.tls ?? true;
  // TCP first, so the socket gets TCP_NODELAY (a TlsConn from Deno.connectTls cannot), then TLS.
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  tcp.setNoDelay(true);
  const conn = tls
    ? await Deno.startTls(tcp, {
      hostname: "localhost",
      caCerts: [server.caPem],
      alpnProtocols: ["h2"],
    })
    : tcp;
  const client = connectH2(conn, clientOptions);
  const authority = `127.0.0.1:${server.port}`;
  const scheme = tls ? "https" : "http";
  return {
    server,
    client,
    get: (path: string, extra: Partial<Parameters<H2ClientConnection["request"]>[0]> = {}) =>
      client.request({ method: "GET", scheme, authority, path, ...extra }),
    post: (path: string, body: Uint8Array | BodyReader, extra = {}) =>
      client.request({ method: "POST", scheme, authority, path, body, ...extra }),
    async [Symbol.asyncDispose]() {
      client.close();
      await client.closed;
      await server.close();
    },
  };
}

const text = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

for (const tls of [true, false]) {
  const over = tls ? "TLS" : "h2c";

  Deno.test(`client over ${over}: GET, POST echo, trailers both ways`, async () => {
    await using t = await open({ tls });
    const get = await t.get("/");
    assert.equal(get.status, 200);
    assert.equal(get.headers.get("content-length"), "24");
    assert.equal(decode(await readWhole(get.body)), "hello from gatehouse h2\n");
    assert.equal(await get.trailers, null);

    const post = await t.post("/echo", text("ping"), {
      trailers: () => HeaderList.from([["x-req-trailer", "yes"]]),
    });
    assert.equal(post.status, 200);
    assert.equal(decode(await readWhole(post.body)), "ping");
    assert.deepEqual((await post.trailers)?.entries(), [["x-req-trailer", "yes"]]);

    const tr = await t.get("/trailers");
    assert.equal(decode(await readWhole(tr.body)), "with trailers\n");
    assert.deepEqual((await tr.trailers)?.entries(), [["x-trailer", "done"], ["grpc-status", "0"]]);

    const head = await t.client.request({
      method: "HEAD",
      scheme: tls ? "https" : "http",
      authority: `127.0.0.1:${t.server.port}`,
      path: "/",
    });
    assert.equal(head.status, 200);
    assert.equal(head.body, null);
  });

  // Small windows over TLS would measure Nagle's algorithm on the server's TLS socket, which Deno
  // gives no way to turn off (docs/http2.md): TLS moves its 8 MiB through the default windows.
  const windows = tls ? {} : { initialWindowSize: 16 * 1024, connectionWindowSize: 64 * 1024 };
  Deno.test(`client over ${over}: 8 MiB each way, twice, through ${tls ? "default" : "16 KiB"} windows`, async () => {
    await using t = await open({ tls, engine: windows }, windows);
    const size = 8 * 1024 * 1024;
    // Twice: the second round runs on buffers the first one grew and idle periods shrank.
    for (let round = 0; round < 2; round++) {
      const down = await t.get(`/bytes/${size}`);
      const got = await readWhole(down.body);
      assert.equal(got.length, size);
      for (let i = 0; i < size; i += 4099) assert.equal(got[i], i % 251);
      const up = await t.post("/echo", patternBody(size));
      const echoed = await readWhole(up.body);
      assert.equal(echoed.length, size);
      for (let i = 0; i < size; i += 4099) assert.equal(echoed[i], i % 251);
    }
    if (!tls) assert.ok(t.server.stats.flowControlStalls > 0, "the server waited for window");
  });

  Deno.test(`client over ${over}: requests beyond the stream limit wait for a free stream`, async () => {
    await using t = await open({ tls, engine: { maxConcurrentStreams: 5 } });
    await t.get("/").then((r) => readWhole(r.body));
    assert.equal(t.client.maxConcurrentStreams, 5);
    assert.equal(t.client.available, 5);
    const all = Array.from({ length: 40 }, (_, i) => t.get(`/bytes/${1000 + i}`));
    assert.equal(t.client.available, 0);
    const bodies = await Promise.all(
      all.map(async (p) => (await readWhole((await p).body)).length),
    );
    assert.deepEqual(bodies, Array.from({ length: 40 }, (_, i) => 1000 + i));
    assert.equal(t.server.stats.refusedStreams, 0);
    await waitFor(() => t.client.available === 5, "the streams to be free again");
  });
}

Deno.test("receive windows grow while the reader keeps up, within the isolate's budget, and not for a stalled reader", async () => {
  await using t = await open({ tls: false });
  const size = 8 * 1024 * 1024;
  // A reader that keeps up: the 64 KiB window the server fills at once doubles (WINDOW_UPDATEs
  // beyond the bytes read), drawing on the budget.
  let least = windowGrowth.available;
  const watch = setInterval(() => least = Math.min(least, windowGrowth.available), 1);
  const down = await t.get(`/bytes/${size}`);
  const got = await readWhole(down.body);
  clearInterval(watch);
  assert.equal(got.length, size);
  assert.ok(least < GROWTH_BUDGET, "the window grew");
  assert.ok(GROWTH_BUDGET - least <= MAX_STREAM_WINDOW, "up to one stream's largest window");
  await waitFor(() => windowGrowth.available === GROWTH_BUDGET, "the growth given back");

  // A reader that takes nothing: the server stops after one window, and nothing grows.
  const stalled = await t.get(`/bytes/${size}`);
  await waitFor(() => t.server.stats.flowControlStalls > 0, "the server to wait for window");
  assert.equal(windowGrowth.available, GROWTH_BUDGET);
  stalled.body!.cancel();
});

Deno.test("client: aborting a request resets its stream; the connection goes on", async () => {
  await using t = await open({ tls: false });
  const ac = new AbortController();
  const res = await t.get("/bytes/50000000", { signal: ac.signal });
  const first = await res.body!.read();
  assert.ok(first && first.length > 0);
  ac.abort(new Error("client gave up"));
  await assert.rejects(() => readWhole(res.body), /client gave up/);
  const next = await t.get("/");
  assert.equal(decode(await readWhole(next.body)), "hello from gatehouse h2\n");
  assert.equal(t.client.openStreams, 0);
});

Deno.test("client: after a graceful GOAWAY, new requests fail as retryable; open ones complete", async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => release = r);
  await using t = await open({
    tls: false,
    onRequest(req) {
      void held.then(() => req.respond({ status: 200, body: text(req.path) })).catch(() => {});
    },
  });
  const first = t.get("/first");
  await waitFor(() => t.server.connections.size === 1, "the connection");
  const [conn] = t.server.connections;
  await waitFor(() => conn.lastStreamId === 1, "the first request");
  // The final GOAWAY names stream 1; a request sent after it is not processed.
  const done = conn.shutdown();
  await waitFor(() => t.client.goaway !== null, "the first GOAWAY");
  const late = t.get("/late");
  await assert.rejects(late, (err) => err instanceof H2ConnectionClosedError && err.retryable);
  release();
  assert.equal(decode(await readWhole((await first).body)), "/first");
  await done;
  assert.equal(t.client.available, 0);
});

Deno.test("client: streams above the last stream id of a GOAWAY fail as retryable", async () => {
  // A raw server: waits for streams 1 and 3, says GOAWAY(last 1), then answers stream 1.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const conn = await listener.accept();
    const buf = new Uint8Array(65536);
    let have = new Uint8Array(0);
    const headersSeen = new Set<number>();
    await conn.write(encodeFrame({ type: FrameType.SETTINGS, ack: false, settings: [] }));
    while (headersSeen.size < 2) {
      const n = await conn.read(buf);
      if (n === null) throw new Error("client closed early");
      have = concatBytes([have, buf.subarray(0, n)]);
      let at = have.length >= 24 && have[0] === 0x50 ? 24 : 0;
      for (
        let f = decodeFrame(have, at, have.length, 1 << 20);
        f;
        f = decodeFrame(have, at, have.length, 1 << 20)
      ) {
        if (f.frame.type === FrameType.HEADERS) {
          headersSeen.add((f.frame as { streamId: number }).streamId);
        }
        at += f.size;
      }
    }
    const enc = new HpackEncoder();
    enc.begin();
    enc.add(":status", "200");
    await conn.write(concatBytes([
      encodeFrame({
        type: FrameType.GOAWAY,
        lastStreamId: 1,
        code: ErrorCode.NO_ERROR,
        debug: new Uint8Array(0),
      }),
      encodeFrame({
        type: FrameType.HEADERS,
        streamId: 1,
        endStream: true,
        endHeaders: true,
        block: enc.finish().slice(),
      }),
    ]));
    await new Promise((r) => setTimeout(r, 100));
    conn.close();
  })();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const client = connectH2(conn);
  const req = (path: string) =>
    client.request({ method: "GET", scheme: "http", authority: "x", path });
  const one = req("/one");
  const three = req("/three");
  await assert.rejects(three, (err) => err instanceof H2ConnectionClosedError && err.retryable);
  assert.equal((await one).status, 200);
  assert.equal(client.goaway?.lastStreamId, 1);
  await serving;
  await client.closed;
  listener.close();
});

Deno.test("client: REFUSED_STREAM is retryable, other resets are not", async () => {
  await using t = await open({
    tls: false,
    onRequest(req) {
      req.reset(req.path === "/refuse" ? ErrorCode.REFUSED_STREAM : ErrorCode.INTERNAL_ERROR);
    },
  });
  await assert.rejects(
    t.get("/refuse"),
    (err) => err instanceof H2StreamResetError && err.retryable && err.byPeer,
  );
  await assert.rejects(
    t.get("/fail"),
    (err) =>
      err instanceof H2StreamResetError && !err.retryable && err.code === ErrorCode.INTERNAL_ERROR,
  );
});

Deno.test("client: a server that does not speak HTTP/2 fails requests with a clear error", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const conn = await listener.accept();
    await conn.write(text("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n"));
    await new Promise((r) => setTimeout(r, 50));
    conn.close();
  })();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const client = connectH2(conn);
  const err = await client.request({ method: "GET", scheme: "http", authority: "x", path: "/" })
    .then(() => null, (e) => e);
  assert.ok(err instanceof H2ConnectionClosedError, String(err));
  assert.match(err.message, /PROTOCOL_ERROR|closed/);
  await client.closed;
  assert.ok(client.closeError);
  await serving;
  listener.close();
});

Deno.test("client: extended CONNECT waits for the server's SETTINGS, then is a byte stream", async () => {
  await using t = await open({ tls: false, engine: { enableConnectProtocol: true } });
  let push!: (c: Uint8Array | null) => void;
  const outgoing: BodyReader = {
    length: -1,
    read: () => new Promise((resolve) => push = resolve),
    cancel: () => {},
  };
  const res = await t.client.request({
    method: "CONNECT",
    protocol: "websocket",
    scheme: "http",
    authority: `127.0.0.1:${t.server.port}`,
    path: "/chat",
    body: outgoing,
  });
  assert.equal(res.status, 200);
  push(text("one"));
  assert.equal(decode((await res.body!.read())!), "one");
  push(text("two"));
  assert.equal(decode((await res.body!.read())!), "two");
  push(null);
  assert.equal(await res.body!.read(), null);
});

Deno.test("client: extended CONNECT to a server without it fails clearly", async () => {
  await using t = await open({ tls: false });
  await assert.rejects(
    t.client.request({
      method: "CONNECT",
      protocol: "websocket",
      scheme: "http",
      authority: "x",
      path: "/",
    }),
    /did not enable SETTINGS_ENABLE_CONNECT_PROTOCOL/,
  );
});

Deno.test("client: ping measures a round trip", async () => {
  await using t = await open({ tls: true });
  const rtt = await t.client.ping();
  assert.ok(rtt >= 0 && rtt < 5000);
});
