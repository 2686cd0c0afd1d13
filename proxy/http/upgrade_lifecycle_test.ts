/**
 * A tunnel's life around the rest of Gatehouse: route table swaps that keep its route, removal
 * of its route, shutdown, and the metrics that count it.
 */
import assert from "node:assert/strict";
import { startGatehouse } from "../testing/gatehouse.ts";
import { parseExposition, sampleValue } from "../testing/prometheus.ts";
import { startProxy, yaml } from "../testing/proxy.ts";
import { closedPort, httpUpstream, waitFor } from "../testing/servers.ts";
import { openWebSocket, type WsClient, wsUpstream } from "../testing/websocket.ts";
import { reload, within } from "../testing/tcp_peers.ts";

/** Routes /ws (unnamed: its name comes from its path) and /chat to WebSocket upstreams. */
function config(ws: string, app: string, variant: { appPath?: string; keepWs?: boolean } = {}) {
  const wsRoute = variant.keepWs === false ? "" : "  - { match: { path: /ws }, service: ws }";
  return yaml`
    entrypoints:
      web: { address: "127.0.0.1:0" }
    routes:
      - { name: app, match: { path: ${variant.appPath ?? "/app"} }, service: app }
      - { name: chat, match: { path: /chat }, service: ws }
    ${wsRoute}
    services:
      ws: { servers: [${ws}] }
      app: { servers: [${app}] }
    timeouts: { drain: 1s }
  `;
}

async function echoes(ws: WsClient, text: string): Promise<void> {
  ws.send(text);
  assert.equal(await ws.next(), text);
}

Deno.test("a session survives route table swaps that keep its route", async () => {
  await using up = await wsUpstream();
  await using app = httpUpstream();
  await using gw = await startProxy(config(up.url, app.url));
  const port = gw.port();
  await using ws = await openWebSocket(`ws://127.0.0.1:${port}/ws`);
  await echoes(ws, "before");

  // Another route changes, the route list is reordered by a new route.
  await reload(gw, config(up.url, app.url, { appPath: "/app2" }));
  await echoes(ws, "after the first swap");
  assert.equal((await fetch(`http://127.0.0.1:${port}/app2`)).status, 200);

  // The tunnel's own service gains a server: the session keeps its connection.
  const more = `http://127.0.0.1:${closedPort()}`;
  await reload(gw, config(`${up.url}, ${more}`, app.url, { appPath: "/app3" }));
  await echoes(ws, "after the second swap");
  // Nothing closes it later either: wait out the drain period a removed route would get.
  await new Promise((r) => setTimeout(r, 1500));
  await echoes(ws, "after the drain period");
  assert.equal(ws.socket.readyState, WebSocket.OPEN);
  assert.equal(up.open, 1);
});

Deno.test("removing a route drains its sessions within timeouts.drain, and only them", async () => {
  await using up = await wsUpstream();
  await using app = httpUpstream();
  await using gw = await startProxy(config(up.url, app.url));
  const port = gw.port();
  const removed = await openWebSocket(`ws://127.0.0.1:${port}/ws`);
  await using kept = await openWebSocket(`ws://127.0.0.1:${port}/chat`);
  await echoes(removed, "one");

  const start = Date.now();
  await reload(gw, config(up.url, app.url, { keepWs: false }));
  // The drain period: the session still works.
  await echoes(removed, "still draining");
  const closed = await within(5000, "the drained session to close", removed.closed);
  const after = Date.now() - start;
  assert.ok(after >= 900 && after < 3000, `closed ${after} ms after the route went away`);
  assert.equal(closed.wasClean, false);
  await echoes(kept, "unaffected");
  await assert.rejects(openWebSocket(`ws://127.0.0.1:${port}/ws`), /404/);
});

Deno.test("shutdown lets a session run for the drain period, then closes it", async () => {
  await using up = await wsUpstream();
  await using app = httpUpstream();
  const gw = await startProxy(config(up.url, app.url));
  const ws = await openWebSocket(`ws://127.0.0.1:${gw.port()}/ws`);
  const start = Date.now();
  const shutdown = gw.close();
  await echoes(ws, "during the drain");
  await within(5000, "the session to close", ws.closed);
  await shutdown;
  const after = Date.now() - start;
  assert.ok(after >= 900 && after < 3000, `shutdown took ${after} ms`);
});

Deno.test("an open session counts as a websocket connection; its end counts the session and bytes", async () => {
  await using up = await wsUpstream();
  await using gh = await startGatehouse(
    yaml`
      entrypoints:
        web: { address: "127.0.0.1:0" }
      routes: [{ name: ws, service: ws }]
      services:
        ws: { servers: [${up.url}] }
      admin: { address: "127.0.0.1:0" }
    `,
    false,
  );
  const scrape = async () => {
    const res = await fetch(gh.admin("/metrics"));
    return await parseExposition(await res.text());
  };
  const labels = { entrypoint: "web", protocol: "websocket" };
  assert.equal(sampleValue(await scrape(), "gatehouse_open_connections", labels), 0);

  const ws = await openWebSocket(`ws://127.0.0.1:${gh.port()}/`);
  await echoes(ws, "hello");
  const open = await scrape();
  assert.equal(sampleValue(open, "gatehouse_open_connections", labels), 1);
  assert.equal(
    sampleValue(open, "gatehouse_open_connections", { entrypoint: "web", protocol: "http" }),
    0,
  );

  await ws.close(4001, "bye");
  let done = await scrape();
  await waitFor(async () => {
    done = await scrape();
    return sampleValue(done, "gatehouse_open_connections", labels) === 0;
  }, "the websocket gauge to drop");
  const session = { entrypoint: "web", router: "ws", service: "ws" };
  assert.equal(sampleValue(done, "gatehouse_websocket_sessions_total", session), 1);
  // "hello" and close 4001 "bye" each way (see upgrade_test.ts for the frame arithmetic).
  const bytes = (direction: string) =>
    sampleValue(done, "gatehouse_websocket_bytes_total", {
      entrypoint: "web",
      router: "ws",
      direction,
    });
  assert.equal(bytes("up"), 11 + 11);
  assert.equal(bytes("down"), 7 + 7);
});
