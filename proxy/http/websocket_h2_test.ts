/**
 * WebSocket over HTTP/2 (RFC 8441) through Gatehouse with python3-h2 as a frame-level client
 * (proxy/testing/h2_peer.py "websocket"): SETTINGS_ENABLE_CONNECT_PROTOCOL advertised, an
 * extended CONNECT with `:protocol: websocket` on h2c and TLS entrypoints becomes an HTTP/1.1
 * Upgrade to the existing WebSocket upstream (Deno.upgradeWebSocket, which checks the key), its
 * 101 a 200 on the stream, then WebSocket frames echo both ways, the close handshake passes and
 * the stream ends; the access record and the websocket metrics count the session. A tunnel that
 * stays idle past the route's `tunnel_idle` is closed on both sides (the engine's client here),
 * and takes no place of the entrypoint's `max_connections` beside its connection's; a client
 * that stops reading holds the upstream back.
 */
import assert from "node:assert/strict";
import { startProxy, yaml } from "../testing/proxy.ts";
import { SYSTEM_PYTHON } from "../testing/prometheus.ts";
import { httpUpstream, waitFor, waitForSteady } from "../testing/servers.ts";
import { accept101, tunnelUpstream } from "../testing/tunnel_peers.ts";
import { rawH2Client } from "../testing/h2_frame_peer.ts";
import { FrameType } from "../proto/h2/frames.ts";
import { SettingId } from "../proto/h2/settings.ts";
import { concatBytes } from "../bytes.ts";
import { wsUpstream } from "../testing/websocket.ts";
import { connectH2, type H2ClientConnection, type H2ClientResponse } from "../proto/h2/client.ts";
import { HeaderList } from "../proto/header_list.ts";
import { reload } from "../testing/tcp_peers.ts";

const PEER = new URL("../testing/h2_peer.py", import.meta.url).pathname;

async function h2Peer(scenario: string, port: number, caFile?: string) {
  const out = await new Deno.Command(SYSTEM_PYTHON, {
    args: [PEER, scenario, "127.0.0.1", String(port), ...(caFile ? ["--tls", caFile] : [])],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(20_000),
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `h2_peer.py ${scenario} failed:\n${err}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** An extended CONNECT for a WebSocket at `path` on `client`, sending nothing; its response. */
function webSocketStream(client: H2ClientConnection, path: string): Promise<H2ClientResponse> {
  return client.request({
    method: "CONNECT",
    protocol: "websocket",
    scheme: "http",
    authority: "ws.test",
    path,
    headers: HeaderList.from([["sec-websocket-version", "13"]]),
    body: { length: -1, read: () => new Promise(() => {}), cancel() {} },
  });
}

Deno.test("WebSocket over HTTP/2: extended CONNECT to an HTTP/1.1 WebSocket upstream, over h2c and TLS", async () => {
  await using up = await wsUpstream();
  await using gw = await startProxy(yaml`
    entrypoints:
      web: { address: "127.0.0.1:0" }
      websecure:
        address: "127.0.0.1:0"
        tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
    routes: [{ service: ws }]
    services: { ws: { servers: ["${up.url}"] } }
  `);
  const runs: [number, string | undefined][] = [
    [gw.port("web"), undefined],
    [gw.port("websecure"), gw.certs.caCertPath],
  ];
  for (const [port, ca] of runs) {
    const res = await h2Peer("websocket", port, ca);
    assert.equal(res.enable_connect_protocol, 1);
    assert.equal(res.status, 200);
    assert.equal(res.headers["sec-websocket-accept"], undefined);
    assert.equal(res.headers["upgrade"], undefined);
    assert.deepEqual(res.frames, [[1, "hello over h2"], [8, "\u0003\u00e8bye"]]);
    assert.equal(res.ended, true);
    assert.equal(res.reset, null);
  }
  await waitFor(() => gw.outcomes.length === 2, "both sessions to be recorded");
  for (const record of gw.outcomes) {
    assert.deepEqual([record.kind, record.status, record.protocol], ["websocket", 101, "HTTP/2"]);
    assert.ok(record.bytesIn > 0 && record.bytesOut > 0, JSON.stringify(record));
  }
  assert.equal(up.sessions.length, 2);
});

Deno.test("WebSocket over HTTP/2: an idle tunnel is closed at tunnel_idle, both sides", async () => {
  await using up = await wsUpstream();
  await using gw = await startProxy(yaml`
    entrypoints: { web: { address: "127.0.0.1:0" } }
    routes: [{ service: ws, timeouts: { tunnel_idle: 300ms } }]
    services: { ws: { servers: ["${up.url}"] } }
  `);
  const client = connectH2(await Deno.connect({ hostname: "127.0.0.1", port: gw.port("web") }));
  try {
    const res = await webSocketStream(client, "/idle");
    assert.equal(res.status, 200);
    await waitFor(() => up.sessions.length === 1, "the upstream session");
    // Nothing moves: Gatehouse ends the stream and the upstream connection.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ended = await Promise.race([
      res.body!.read().then(() => "ended", () => "reset"),
      new Promise((resolve) => timer = setTimeout(() => resolve("still open"), 10_000)),
    ]);
    clearTimeout(timer);
    assert.notEqual(ended, "still open");
    await waitFor(() => up.open === 0, "the upstream socket to close");
    await waitFor(() => gw.outcomes.length === 1, "the session to be recorded");
    assert.equal(gw.outcomes[0].kind, "websocket");
  } finally {
    client.close();
  }
});

Deno.test("WebSocket over HTTP/2 never gets a 2xx without a tunnel: 501 on upgrade: false, 502 on a plain answer", async () => {
  await using ws = await wsUpstream();
  await using plain = httpUpstream(() => new Response("not a websocket"));
  await using gw = await startProxy(yaml`
    entrypoints: { web: { address: "127.0.0.1:0" } }
    routes:
      - { match: { path: /ws }, service: ws, upgrade: false }
      - { service: plain }
    services:
      ws: { servers: ["${ws.url}"] }
      plain: { servers: ["${plain.url}"] }
  `);
  // h2_peer.py asks for /ws: the route does not tunnel.
  const refused = await h2Peer("websocket", gw.port("web"));
  assert.equal(refused.status, 501);
  assert.equal(ws.sessions.length, 0);
  assert.equal(plain.requests.length, 0);
  // An upstream that answers the upgrade with a plain 200.
  await using gw2 = await startProxy(yaml`
    entrypoints: { web: { address: "127.0.0.1:0" } }
    routes: [{ service: plain }]
    services: { plain: { servers: ["${plain.url}"] } }
  `);
  const plainAnswer = await h2Peer("websocket", gw2.port("web"));
  assert.equal(plainAnswer.status, 502);
  assert.equal(plain.requests.length, 1);
  assert.equal(gw2.outcomes[0].status, 502);
});

Deno.test("WebSocket over HTTP/2: a reload keeping the route keeps the tunnel, removing it drains it", async () => {
  await using up = await wsUpstream();
  const config = (keep: boolean) =>
    yaml`
    entrypoints: { web: { address: "127.0.0.1:0" } }
    routes:
      - { name: other, match: { path: /other }, service: ws }
  ` + (keep ? "  - { name: ws, match: { path: /ws }, service: ws }\n" : "") + yaml`
    services: { ws: { servers: ["${up.url}"] } }
    timeouts: { drain: 1s }
  `;
  await using gw = await startProxy(config(true));
  const client = connectH2(await Deno.connect({ hostname: "127.0.0.1", port: gw.port("web") }));
  try {
    const res = await webSocketStream(client, "/ws");
    assert.equal(res.status, 200);
    await waitFor(() => up.open === 1, "the upstream session");
    let ended = false;
    void res.body!.read().then(() => ended = true, () => ended = true);
    await reload(gw, config(true));
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(ended, false, "the tunnel ended on a reload that kept its route");
    assert.equal(up.open, 1);
    const start = Date.now();
    await reload(gw, config(false));
    await waitFor(() => ended && up.open === 0, "the drained tunnel to close", 5000);
    const after = Date.now() - start;
    assert.ok(after >= 900, `closed ${after} ms after the route went away`);
  } finally {
    client.close();
  }
});

Deno.test("WebSocket over HTTP/2: a tunnel on a stream does not count as another connection", async () => {
  await using up = await wsUpstream();
  await using plain = httpUpstream();
  await using gw = await startProxy(yaml`
    entrypoints: { web: { address: "127.0.0.1:0", max_connections: 2 } }
    routes:
      - { match: { path: /ws }, service: ws }
      - { service: plain }
    services:
      ws: { servers: ["${up.url}"] }
      plain: { servers: ["${plain.url}"] }
  `);
  const client = connectH2(await Deno.connect({ hostname: "127.0.0.1", port: gw.port("web") }));
  try {
    const res = await webSocketStream(client, "/ws");
    assert.equal(res.status, 200);
    await waitFor(() => up.sessions.length === 1, "the upstream session");
    // One connection is open: a second one has its place.
    const http = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
    try {
      const second = await fetch(`http://127.0.0.1:${gw.port("web")}/`, { client: http });
      assert.equal(await second.text(), "ok");
    } finally {
      http.close();
    }
    res.body!.cancel();
  } finally {
    client.close();
  }
});

Deno.test("WebSocket over HTTP/2: a client that stops reading holds the upstream back", async () => {
  let sent = 0;
  await using up = tunnelUpstream(async (peer) => {
    await accept101(peer);
    // One unmasked binary frame of 64 KiB, again and again, for as long as the socket takes it.
    const payload = new Uint8Array(65536);
    const frame = concatBytes([new Uint8Array([0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]), payload]);
    try {
      while (true) {
        await peer.write(frame);
        sent += frame.length;
      }
    } catch {
      // the tunnel closed
    }
  });
  await using gw = await startProxy(yaml`
    entrypoints: { web: { address: "127.0.0.1:0" } }
    routes: [{ service: ws }]
    services: { ws: { servers: ["${up.url}"] } }
  `);
  // Window 0 for every stream: the client takes nothing of what the upstream sends.
  await using peer = await rawH2Client(gw.port("web"), [[SettingId.INITIAL_WINDOW_SIZE, 0]]);
  const stream = peer.nextStreamId();
  await peer.send({
    type: FrameType.HEADERS,
    streamId: stream,
    endStream: false,
    endHeaders: true,
    block: peer.block([
      [":method", "CONNECT"],
      [":protocol", "websocket"],
      [":scheme", "http"],
      [":authority", "ws.test"],
      [":path", "/firehose"],
      ["sec-websocket-version", "13"],
    ]),
  });
  await peer.waitFor((f) => f.type === FrameType.HEADERS && f.streamId === stream);
  assert.deepEqual(peer.fields.get(stream)?.[0][0], [":status", "200"]);
  // The tunnel reads the upstream only until the socket buffers are full, then waits.
  await waitForSteady(() => sent, "the upstream to be held back");
  assert.ok(sent < 64 * 1024 * 1024, `the upstream wrote ${sent} bytes`);
  const before = sent;
  await peer.send(
    { type: FrameType.WINDOW_UPDATE, streamId: 0, increment: 8 * 1024 * 1024 },
    { type: FrameType.WINDOW_UPDATE, streamId: stream, increment: 8 * 1024 * 1024 },
  );
  await waitFor(() => sent > before, "the upstream to write again");
});
