import assert from "node:assert/strict";
import { ConnectionRegistry } from "../net/connections.ts";
import { connect, proxyFor } from "../testing/proxy.ts";
import { httpUpstream, rawResponse, rawUpstream, waitFor } from "../testing/servers.ts";
import { readResponse } from "../testing/wire.ts";
import { ConnPool, type ConnPoolOptions } from "./conn_pool.ts";

/** The upstream's side of one pooled connection. */
interface PeerSide {
  readonly conn: Deno.Conn;
  /** True once the pool's side closed the connection (the upstream read end of stream). */
  closed: boolean;
}

/** A loopback upstream that keeps every connection open and notices when the pool closes one. */
function peerServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const peers: PeerSide[] = [];
  (async () => {
    for await (const conn of listener) {
      const peer: PeerSide = { conn, closed: false };
      peers.push(peer);
      (async () => {
        const buf = new Uint8Array(1024);
        while (await conn.read(buf).catch(() => null) !== null);
        peer.closed = true;
      })();
    }
  })().catch(() => {});
  return {
    peers,
    dial: () => Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    [Symbol.dispose]() {
      listener.close();
      for (const peer of peers) {
        try {
          peer.conn.close();
        } catch {
          // closed by the test
        }
      }
    },
  };
}

/** A pool over `server`, with its registry; `options` override the defaults. */
function poolFor(server: ReturnType<typeof peerServer>, options: Partial<ConnPoolOptions> = {}) {
  const registry = new ConnectionRegistry();
  const pool = new ConnPool({
    dial: server.dial,
    registry,
    label: "svc",
    maxIdle: 4,
    idleTimeoutMs: 60_000,
    ...options,
  });
  return { pool, registry };
}

const signal = new AbortController().signal;

Deno.test("the pool hands out the most recently released connection first (a stack)", async () => {
  using server = peerServer();
  const { pool } = poolFor(server);
  const a = pool.takeIdle() ?? await pool.connect(signal);
  const b = pool.takeIdle() ?? await pool.connect(signal);
  assert.notEqual(a, b);
  assert.equal(a.reused, false);
  a.release(true);
  b.release(true);
  assert.equal(pool.idle, 2);
  const first = pool.takeIdle() ?? await pool.connect(signal);
  const second = pool.takeIdle() ?? await pool.connect(signal);
  assert.equal(first, b, "the last one released comes back first");
  assert.equal(second, a);
  assert.equal(first.reused, true);
  assert.equal(server.peers.length, 2, "no new dial while idle connections were there");
  assert.equal(pool.open, 2);
  pool.close();
  first.release(true);
  second.release(true);
});

Deno.test("idle connections over maxIdle close, least recently used first, once unused for surplusMs", async () => {
  using server = peerServer();
  const { pool, registry } = poolFor(server, { maxIdle: 1, surplusMs: 200 });
  const a = pool.takeIdle() ?? await pool.connect(signal);
  const b = pool.takeIdle() ?? await pool.connect(signal);
  a.release(true);
  b.release(true);
  assert.equal(pool.idle, 2, "a burst's surplus waits to be reused");
  const again = pool.takeIdle() ?? await pool.connect(signal);
  assert.equal(again, b, "reused instead of dialling");
  assert.equal(server.peers.length, 2);
  again.release(true);
  await waitFor(
    () => server.peers[0].closed,
    "the least recently used surplus connection to close",
  );
  assert.equal(pool.idle, 1);
  assert.equal(pool.open, 1);
  assert.equal(registry.size, 1);
  assert.equal(server.peers[1].closed, false);
  assert.equal(pool.takeIdle(), b);
  b.release(true);
  pool.close();
});

Deno.test("maxIdle 0 keeps no connection", async () => {
  using server = peerServer();
  const { pool, registry } = poolFor(server, { maxIdle: 0 });
  const a = pool.takeIdle() ?? await pool.connect(signal);
  a.release(true);
  assert.equal(pool.idle, 0);
  assert.equal(registry.size, 0);
  await waitFor(() => server.peers[0].closed, "the connection to close");
});

Deno.test("release(false) closes the connection and it is never handed out again", async () => {
  using server = peerServer();
  const { pool, registry } = poolFor(server);
  const a = pool.takeIdle() ?? await pool.connect(signal);
  a.release(false);
  a.release(true);
  assert.equal(pool.idle, 0, "a second release is ignored");
  assert.equal(pool.open, 0);
  assert.equal(registry.size, 0);
  await waitFor(() => server.peers[0].closed, "the upstream to see the close");
  const b = pool.takeIdle() ?? await pool.connect(signal);
  assert.notEqual(b, a);
  assert.equal(b.reused, false);
  assert.equal(server.peers.length, 2);
  b.release(false);
});

Deno.test("an idle connection past its idle timeout is closed and not handed out", async () => {
  using server = peerServer();
  const { pool, registry } = poolFor(server, { idleTimeoutMs: 500 });
  const a = pool.takeIdle() ?? await pool.connect(signal);
  const released = Date.now();
  a.release(true);
  registry.sweep(released + 400);
  assert.equal(pool.idle, 1, "still within its idle time");
  registry.sweep(released + 1_000);
  // Handed out in the same turn as the sweep, before the close is noticed asynchronously.
  const b = pool.takeIdle() ?? await pool.connect(signal);
  assert.notEqual(b, a);
  await waitFor(() => server.peers[0].closed, "the expired connection to close");
  await waitFor(() => pool.open === 1 && registry.size === 1, "the expired one to be forgotten");
  b.release(false);
});

Deno.test("an idle connection the upstream closes or writes to leaves the pool", async () => {
  using server = peerServer();
  const { pool, registry } = poolFor(server);
  const leases = [
    pool.takeIdle() ?? await pool.connect(signal),
    pool.takeIdle() ?? await pool.connect(signal),
  ];
  for (const lease of leases) lease.release(true);
  await waitFor(() => server.peers.length === 2, "both connections accepted");
  server.peers[0].conn.close();
  await server.peers[1].conn.write(new TextEncoder().encode("HTTP/1.1 408 Timeout\r\n\r\n"));
  await waitFor(() => pool.idle === 0, "both stale connections to leave the pool");
  assert.equal(pool.open, 0);
  assert.equal(registry.size, 0);
  await waitFor(() => server.peers[1].closed, "the one that wrote to be closed");
  const fresh = pool.takeIdle() ?? await pool.connect(signal);
  assert.equal(fresh.reused, false);
  assert.equal(server.peers.length, 3);
  fresh.release(false);
});

Deno.test("connect dials even with idle connections; close() closes idle and later releases", async () => {
  using server = peerServer();
  const { pool } = poolFor(server);
  const a = pool.takeIdle() ?? await pool.connect(signal);
  a.release(true);
  const b = await pool.connect(signal);
  assert.notEqual(b, a);
  assert.equal(pool.idle, 1);
  pool.close();
  assert.equal(pool.idle, 0);
  await waitFor(() => server.peers[0].closed, "the idle one to close with the pool");
  b.release(true);
  assert.equal(pool.idle, 0, "a closed pool keeps nothing");
  await waitFor(() => server.peers[1].closed, "the leased one to close on release");
  assert.equal(pool.open, 0);
});

Deno.test("a failed dial rejects connect and counts nothing", async () => {
  const registry = new ConnectionRegistry();
  const pool = new ConnPool({
    dial: () => Promise.reject(new Deno.errors.ConnectionRefused("refused")),
    registry,
    label: "svc",
    maxIdle: 4,
    idleTimeoutMs: 1_000,
  });
  await assert.rejects(pool.connect(signal), Deno.errors.ConnectionRefused);
  assert.equal(pool.open, 0);
  assert.equal(registry.size, 0);
});

Deno.test("50 requests on one client connection reuse one upstream connection", async () => {
  await using up = httpUpstream();
  await using gw = await proxyFor([up.url]);
  using c = await connect(gw.port());
  for (let i = 0; i < 50; i++) {
    await c.send(`GET /${i} HTTP/1.1\r\nHost: a.test\r\n\r\n`);
    assert.equal((await readResponse(c.reader)).text, "ok");
  }
  assert.equal(up.requests.length, 50);
  assert.ok(up.connections <= 2, `${up.connections} upstream connections`);
});

Deno.test("an upstream restarted on its port is reached again, by name, without a restart", async () => {
  const first = httpUpstream(undefined, { name: "first" });
  const port = first.port;
  await using gw = await proxyFor([`http://localhost:${port}`]);
  assert.equal(await (await fetch(gw.url("/"))).text(), "first");
  // The pooled keep-alive connection to the old server dies with it.
  await first.close();
  await using second = httpUpstream(undefined, { name: "second", port });
  assert.equal(await (await fetch(gw.url("/"))).text(), "second");
  assert.equal(second.requests.length, 1);
});

Deno.test("an upstream down for a while gets 502s, then traffic again once it is back", async () => {
  const first = httpUpstream(undefined, { name: "first" });
  const port = first.port;
  await using gw = await proxyFor([`http://localhost:${port}`]);
  assert.equal((await fetch(gw.url("/"))).status, 200);
  await first.close();
  const down = await fetch(gw.url("/"));
  await down.body?.cancel();
  assert.equal(down.status, 502);
  await using _second = httpUpstream(undefined, { name: "second", port });
  assert.equal(await (await fetch(gw.url("/"))).text(), "second");
});

Deno.test({
  name: "a GET on a kept-alive connection the upstream just closed is replayed on a new one",
  async fn() {
    const served = new Map<Deno.Conn, number>();
    // Each connection answers one request, then closes unanswered when the next one comes.
    await using up = rawUpstream(async (_req, conn) => {
      const n = (served.get(conn.conn) ?? 0) + 1;
      served.set(conn.conn, n);
      if (n === 1) await conn.write(rawResponse(200, [], "ok"));
      else conn.close();
    });
    await using gw = await proxyFor([up.url]);
    assert.equal(await (await fetch(gw.url("/"))).text(), "ok");
    assert.equal(await (await fetch(gw.url("/"))).text(), "ok");
    assert.equal(up.accepted, 2);
  },
});
