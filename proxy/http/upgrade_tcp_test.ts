/**
 * The tunnel as a TCP pipe: a non-WebSocket Upgrade protocol with half-close each way, a dropped
 * connection closing the other side, and the deadlines before and after the upgrade.
 */
import assert from "node:assert/strict";
import { pythonWsServer } from "../testing/python_ws.ts";
import { connect } from "../testing/proxy.ts";
import { waitFor } from "../testing/servers.ts";
import {
  accept101,
  entry,
  tunnelProxy,
  tunnelUpstream,
  upgradeRequest,
  wsUrl,
} from "../testing/tunnel_peers.ts";
import { openWebSocket, wsUpstream } from "../testing/websocket.ts";
import { within } from "../testing/tcp_peers.ts";

const ENTRYPOINTS = ["web", "secure"] as const;
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

for (const ep of ENTRYPOINTS) {
  Deno.test(`${ep}: an x-echo Upgrade round trip passes half-close in both directions`, async () => {
    const upstreamGot: string[] = [];
    await using up = tunnelUpstream(async (peer) => {
      await accept101(peer);
      if (peer.head.startLine.startsWith("GET /client-first")) {
        // The client shuts its write side first; the upstream still answers after that.
        const got = text(await peer.reader.readToEnd());
        upstreamGot.push(got);
        await peer.write(got.toUpperCase());
        await peer.write(" and more after your FIN");
      } else {
        // The upstream shuts its write side first; the client still sends after that.
        await peer.write("upstream is done talking");
        await peer.conn.closeWrite();
        upstreamGot.push(text(await peer.reader.readToEnd()));
      }
    });
    await using gw = await tunnelProxy(up.url);

    using first = await upgradeRequest(entry(gw, ep), {
      target: "/client-first",
      protocol: "x-echo",
    });
    assert.equal(first.status, 101);
    assert.equal(first.head.fields.find(([n]) => n.toLowerCase() === "upgrade")?.[1], "x-echo");
    await first.client.send("hello ");
    await first.client.send("world");
    await first.client.conn.closeWrite();
    assert.equal(
      text(await within(5000, "the upstream's end", first.client.reader.readToEnd())),
      "HELLO WORLD and more after your FIN",
    );
    assert.equal(upstreamGot[0], "hello world");

    using second = await upgradeRequest(entry(gw, ep), {
      target: "/upstream-first",
      protocol: "x-echo",
    });
    const upstreamSaid = await within(5000, "the upstream's end", second.client.reader.readToEnd());
    assert.equal(text(upstreamSaid), "upstream is done talking");
    await second.client.send("still talking after your FIN");
    await second.client.conn.closeWrite();
    await waitFor(() => upstreamGot.length === 2, "the upstream to read to the end");
    assert.equal(upstreamGot[1], "still talking after your FIN");

    await waitFor(() => gw.outcomes.length === 2, "two log records");
    assert.deepEqual(gw.outcomes.map((o) => [o.status, o.kind, o.bytesIn, o.bytesOut]), [
      [101, "websocket", 11, 35],
      [101, "websocket", 28, 24],
    ]);
  });

  Deno.test(`${ep}: a client whose TCP connection drops gets its upstream session closed`, async () => {
    await using up = await wsUpstream();
    await using gw = await tunnelProxy(up.url);
    using client = await upgradeRequest(entry(gw, ep));
    assert.equal(client.status, 101);
    assert.equal(up.open, 1);
    client.client.close();
    await waitFor(() => up.open === 0, "the upstream's socket to close");
    assert.equal((await up.sessions[0].closed).wasClean, false);
    await waitFor(() => gw.outcomes.length === 1, "the session's log record");
    await waitFor(() => gw.runtime.clients.size === 0, "the client connection to be released");
  });

  Deno.test(`${ep}: an upstream that dies gets its client session closed`, async () => {
    await using up = await pythonWsServer();
    await using gw = await tunnelProxy(up.url);
    const ws = await openWebSocket(wsUrl(gw, ep));
    ws.send("ping");
    assert.equal(await ws.next(), "ping");
    await up.close();
    let closed = false;
    ws.closed.then(() => closed = true);
    await waitFor(() => closed, "the client's socket to close");
    assert.equal((await ws.closed).wasClean, false);
    await waitFor(() => gw.runtime.clients.size === 0, "the client connection to be released");
  });
}

Deno.test("timeouts.header_read cuts a slow upgrade request before it reaches the upstream", async () => {
  await using up = await wsUpstream();
  await using gw = await tunnelProxy(up.url, { top: "timeouts: { header_read: 1s }" });
  using client = await connect(gw.port("web"));
  const head = "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n" +
    "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  const started = Date.now();
  let cut = false;
  const ended = client.reader.readToEnd().catch(() => new Uint8Array(0)).finally(() => cut = true);
  // One byte every 100 ms: the whole head would take ~16 s.
  for (let i = 0; i < head.length && !cut; i++) {
    try {
      await client.send(head[i]);
    } catch {
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await ended;
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 900 && elapsed < 5000, `cut after ${elapsed} ms`);
  assert.equal(up.sessions.length, 0);
});

Deno.test("an established tunnel has no idle timeout by default, whatever the HTTP timeouts", async () => {
  await using up = await wsUpstream();
  await using gw = await tunnelProxy(up.url, {
    top: "timeouts: { header_read: 1s, keep_alive_idle: 1s, response_header: 1s, body_idle: 1s }",
  });
  await using ws = await openWebSocket(wsUrl(gw, "web"));
  ws.send("before");
  assert.equal(await ws.next(), "before");
  // Silence both ways for longer than every HTTP timeout (no pings: both ends have them off).
  await new Promise((r) => setTimeout(r, 2500));
  ws.send("after");
  assert.equal(await ws.next(), "after");
  assert.equal(gw.runtime.clients.size, 1);
});

Deno.test("timeouts.tunnel_idle closes an idle tunnel and spares a busy one", async () => {
  await using up = await wsUpstream();
  await using gw = await tunnelProxy(up.url, { route: "timeouts: { tunnel_idle: 1s }" });
  const idle = await openWebSocket(wsUrl(gw, "web", "/idle"));
  await using busy = await openWebSocket(wsUrl(gw, "web", "/busy"));
  const opened = Date.now();
  let idleClosedAt = 0;
  idle.closed.then(() => idleClosedAt = Date.now());
  for (let i = 0; i < 10; i++) {
    busy.send(`tick ${i}`);
    assert.equal(await busy.next(), `tick ${i}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  assert.ok(idleClosedAt > 0, "the idle tunnel is still open");
  const after = idleClosedAt - opened;
  assert.ok(after >= 900 && after < 2500, `the idle tunnel closed after ${after} ms`);
  assert.equal(busy.socket.readyState, WebSocket.OPEN);
  await waitFor(() => up.open === 1, "the upstream's idle socket to close");
});

for (const ending of ["tunnel_idle", "shutdown"] as const) {
  Deno.test(`${ending} closes a half-closed tunnel whole, its silent upstream side too`, async () => {
    let release = () => {};
    const released = new Promise<void>((r) => release = r);
    await using up = tunnelUpstream(async (peer) => {
      await accept101(peer);
      await peer.reader.readToEnd();
      // The client's FIN arrived; this upstream keeps its own side open and says nothing.
      await released;
    });
    try {
      const gw = await tunnelProxy(up.url, {
        route: ending === "tunnel_idle" ? "timeouts: { tunnel_idle: 1s }" : undefined,
        top: "timeouts: { drain: 1s }",
      });
      try {
        using client = await upgradeRequest(entry(gw, "web"), { protocol: "x-silent" });
        assert.equal(client.status, 101);
        await client.client.conn.closeWrite();
        if (ending === "shutdown") await within(5000, "the shutdown to finish", gw.close());
        await waitFor(() => gw.outcomes.length === 1, "the tunnel to end", 5000);
        assert.equal(gw.runtime.clients.size, 0);
      } finally {
        await within(5000, "the shutdown to finish", gw.close());
      }
    } finally {
      release();
    }
  });
}
