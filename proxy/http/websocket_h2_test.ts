/**
 * WebSocket over HTTP/2 (RFC 8441) through Gatehouse with python3-h2 as a frame-level client
 * (proxy/testing/h2_peer.py "websocket"): SETTINGS_ENABLE_CONNECT_PROTOCOL advertised, an
 * extended CONNECT with `:protocol: websocket` on h2c and TLS entrypoints becomes an HTTP/1.1
 * Upgrade to the existing WebSocket upstream (Deno.upgradeWebSocket, which checks the key), its
 * 101 a 200 on the stream, then WebSocket frames echo both ways, the close handshake passes and
 * the stream ends; the access record and the websocket metrics count the session.
 */
import assert from "node:assert/strict";
import { startProxy, yaml } from "../testing/proxy.ts";
import { SYSTEM_PYTHON } from "../testing/prometheus.ts";
import { waitFor } from "../testing/servers.ts";
import { wsUpstream } from "../testing/websocket.ts";

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
