/**
 * WebSocket tunnels with a second implementation: python3-websockets clients against Deno and
 * python upstreams, through the plain and the TLS entrypoint. Python offers permessage-deflate,
 * sends fragmented messages and pings, so these show that extensions and control frames pass.
 */
import assert from "node:assert/strict";
import { pythonWsClient, pythonWsServer } from "../testing/python_ws.ts";
import { httpUpstream, waitFor } from "../testing/servers.ts";
import { tunnelProxy, wsUrl } from "../testing/tunnel_peers.ts";
import { wsUpstream } from "../testing/websocket.ts";

const ENTRYPOINTS = ["web", "secure"] as const;

for (const ep of ENTRYPOINTS) {
  Deno.test(`${ep}: python client to a Deno upstream: echo, subprotocol, no extension`, async () => {
    await using up = await wsUpstream({ protocols: ["chat.v2"] });
    await using gw = await tunnelProxy(up.url);
    const result = await pythonWsClient(wsUrl(gw, ep, "/py"), "echo", {
      cafile: gw.certs.caCertPath,
      protocols: ["chat.v1", "chat.v2"],
    });
    assert.equal(result.ok, true);
    assert.equal(result.subprotocol, "chat.v2");
    // Python offered permessage-deflate, Deno declined: the proxy added nothing.
    assert.match(up.sessions[0].headers.get("sec-websocket-extensions")!, /permessage-deflate/);
    assert.equal(result.extensions, null);
  });

  Deno.test(`${ep}: permessage-deflate negotiated end to end, compressed bytes through the tunnel`, async () => {
    await using up = await pythonWsServer();
    await using gw = await tunnelProxy(up.url);
    const size = 1 << 20;
    const result = await pythonWsClient(wsUrl(gw, ep), "deflate", {
      cafile: gw.certs.caCertPath,
      size,
    });
    assert.equal(result.ok, true);
    assert.match(String(result.extensions), /^permessage-deflate/);
    await up.ended(1);
    assert.equal(up.sessions[0].extensions, result.extensions);
    const offered = up.sessions[0].headers.find(([n]) => n === "Sec-WebSocket-Extensions");
    assert.match(offered![1], /permessage-deflate/);
    // A 1 MiB repetitive text crossed compressed both ways: the proxy never inflated it.
    await waitFor(() => gw.outcomes.length === 1, "the session's log record");
    assert.ok(gw.outcomes[0].bytesIn < size / 50, `${gw.outcomes[0].bytesIn} bytes up`);
    assert.ok(gw.outcomes[0].bytesOut < size / 50, `${gw.outcomes[0].bytesOut} bytes down`);
  });

  Deno.test(`${ep}: fragmented messages and pings pass both ways`, async () => {
    await using up = await pythonWsServer();
    await using gw = await tunnelProxy(up.url);
    const result = await pythonWsClient(wsUrl(gw, ep), "fragments", {
      cafile: gw.certs.caCertPath,
    });
    assert.equal(result.ok, true);
  });

  Deno.test(`${ep}: python close 4001 with a reason reaches the other side, both ways`, async () => {
    await using up = await pythonWsServer();
    await using gw = await tunnelProxy(up.url);
    const fromClient = await pythonWsClient(wsUrl(gw, ep, "/client-closes"), "close", {
      cafile: gw.certs.caCertPath,
      code: 4001,
      reason: "bye from python client",
    });
    assert.equal(fromClient.ok, true);
    await up.ended(1);
    assert.equal(up.sessions[0].close_code, 4001);
    assert.equal(up.sessions[0].close_reason, "bye from python client");

    const fromUpstream = await pythonWsClient(wsUrl(gw, ep, "/upstream-closes"), "server-close", {
      cafile: gw.certs.caCertPath,
      code: 4001,
      reason: "bye from python server",
    });
    assert.equal(fromUpstream.close_code, 4001);
    assert.equal(fromUpstream.close_reason, "bye from python server");
  });

  Deno.test(`${ep}: 1000 python messages arrive in order`, async () => {
    await using up = await pythonWsServer();
    await using gw = await tunnelProxy(up.url);
    const result = await pythonWsClient(wsUrl(gw, ep), "ordered", {
      cafile: gw.certs.caCertPath,
      count: 1000,
    });
    assert.equal(result.ok, true);
    await up.ended(1);
    assert.equal(up.sessions[0].messages, 1000);
  });

  Deno.test(`${ep}: a python client sees the upstream's refusal status`, async () => {
    await using up = httpUpstream(() => new Response("no token\n", { status: 403 }));
    await using gw = await tunnelProxy(up.url);
    const result = await pythonWsClient(wsUrl(gw, ep), "echo", { cafile: gw.certs.caCertPath });
    assert.equal(result.refused, 403);
  });
}
