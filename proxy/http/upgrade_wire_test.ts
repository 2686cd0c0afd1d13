/**
 * Upgrade requests and tunnels seen byte by byte, with raw peers on both sides: which headers
 * reach the upstream, frames passing unchanged, refusals passed through, routes that disable
 * upgrades, and HTTP/2 never offering one.
 */
import { concatBytes } from "../bytes.ts";
import assert from "node:assert/strict";
import { connect, tlsClient } from "../testing/proxy.ts";
import { httpUpstream, waitFor } from "../testing/servers.ts";
import {
  accept101,
  entry,
  Opcode,
  tunnelProxy,
  tunnelUpstream,
  upgradeRequest,
  wsFrame,
  wsUrl,
} from "../testing/tunnel_peers.ts";
import { openWebSocket, wsUpstream } from "../testing/websocket.ts";
import { field, fieldNames, readBody, readHead, readResponse } from "../testing/wire.ts";
import { within } from "../testing/tcp_peers.ts";

const ENTRYPOINTS = ["web", "secure"] as const;

for (const ep of ENTRYPOINTS) {
  Deno.test(`${ep}: the upgrade request carries forwarding, id, cookies and auth, no other hop-by-hop field`, async () => {
    await using up = tunnelUpstream((peer) =>
      accept101(
        peer,
        "Sec-WebSocket-Protocol: chat.v1\r\nSet-Cookie: seen=1\r\n" +
          "Keep-Alive: timeout=5\r\nX-Up-Hop: private\r\nConnection: X-Up-Hop\r\n",
      )
    );
    await using gw = await tunnelProxy(up.url);
    using client = await upgradeRequest(entry(gw, ep), {
      target: "/socket?v=2",
      connection: "keep-alive, Upgrade, X-Hop",
      fields: [
        "X-Hop: secret",
        "Keep-Alive: timeout=5",
        "TE: trailers",
        "Trailer: X-Checksum",
        "Proxy-Connection: keep-alive",
        "Proxy-Authorization: Basic Zm9vOmJhcg==",
        "Cookie: session=abc; theme=dark",
        "Authorization: Bearer token-123",
        "X-Request-Id: req-42",
        "Origin: https://app.example",
        "Sec-WebSocket-Protocol: chat.v1, chat.v2",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
      ],
    });
    assert.equal(client.status, 101);

    const head = up.heads[0];
    assert.equal(head.startLine, "GET /socket?v=2 HTTP/1.1");
    const names = fieldNames(head);
    for (const hop of ["keep-alive", "te", "trailer", "proxy-connection", "proxy-authorization"]) {
      assert.ok(!names.includes(hop), `${hop} reached the upstream`);
    }
    assert.ok(!names.includes("x-hop"), "a field named in Connection reached the upstream");
    assert.equal(field(head, "connection")?.toLowerCase(), "upgrade");
    assert.equal(field(head, "upgrade"), "websocket");
    assert.equal(field(head, "x-forwarded-for"), "127.0.0.1");
    assert.equal(field(head, "x-forwarded-proto"), ep === "web" ? "http" : "https");
    assert.equal(field(head, "x-request-id"), "req-42");
    assert.equal(field(head, "cookie"), "session=abc; theme=dark");
    assert.equal(field(head, "authorization"), "Bearer token-123");
    assert.equal(field(head, "origin"), "https://app.example");
    assert.equal(field(head, "sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ==");
    assert.equal(field(head, "sec-websocket-version"), "13");
    assert.equal(field(head, "sec-websocket-protocol"), "chat.v1, chat.v2");
    assert.equal(
      field(head, "sec-websocket-extensions"),
      "permessage-deflate; client_max_window_bits",
    );

    // The 101 keeps the handshake fields and loses the upstream's own hop-by-hop ones.
    const answer = client.head;
    assert.equal(field(answer, "sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert.equal(field(answer, "sec-websocket-protocol"), "chat.v1");
    assert.equal(field(answer, "set-cookie"), "seen=1");
    assert.equal(field(answer, "upgrade"), "websocket");
    assert.equal(field(answer, "connection")?.toLowerCase(), "upgrade");
    assert.ok(!fieldNames(answer).includes("keep-alive"));
    assert.ok(!fieldNames(answer).includes("x-up-hop"));
  });

  Deno.test(`${ep}: frames pass byte for byte, early bytes included: fragments, ping, pong, close`, async () => {
    const fromClient = concatBytes([
      wsFrame(Opcode.text, "early text", { mask: true }),
      wsFrame(Opcode.binary, new Uint8Array([0, 1, 2]), { fin: false, mask: true }),
      wsFrame(Opcode.ping, "are you there", { mask: true }),
      wsFrame(Opcode.cont, new Uint8Array(70_000).fill(7), { fin: false, mask: true }),
      wsFrame(Opcode.cont, new Uint8Array([255]), { mask: true }),
    ]);
    const closeFromClient = wsFrame(Opcode.close, "\x0f\xa1going", { mask: true });
    const fromUpstream = concatBytes([
      wsFrame(Opcode.pong, "are you there"),
      wsFrame(Opcode.text, "frag-", { fin: false }),
      wsFrame(Opcode.ping, "in between"),
      wsFrame(Opcode.cont, "ment"),
      wsFrame(Opcode.binary, new Uint8Array(200_000).fill(9)),
    ]);
    const closeFromUpstream = wsFrame(Opcode.close, "\x0f\xa1done");
    let upstreamGot: Uint8Array | null = null;
    let upstreamClose: Uint8Array | null = null;
    await using up = tunnelUpstream(async (peer) => {
      // The 101 and the first frames leave in one write, as a server may send them. The client's
      // early frames wait in the proxy until the 101 (the upstream could have refused).
      await accept101(peer, "", fromUpstream);
      upstreamGot = await peer.reader.readExactly(fromClient.length);
      upstreamClose = await peer.reader.readExactly(closeFromClient.length);
      await peer.write(closeFromUpstream);
    });
    await using gw = await tunnelProxy(up.url);
    using client = await upgradeRequest(entry(gw, ep), { early: fromClient });
    assert.equal(client.status, 101);
    const reader = client.client.reader;
    const frames = await within(5000, "the frames", reader.readExactly(fromUpstream.length));
    assert.deepEqual(frames, fromUpstream);
    await client.client.send(closeFromClient);
    const close = await within(5000, "the close", reader.readExactly(closeFromUpstream.length));
    assert.deepEqual(close, closeFromUpstream);
    assert.deepEqual(await within(5000, "the end", reader.readToEnd()), new Uint8Array(0));
    assert.deepEqual(upstreamGot, fromClient);
    assert.deepEqual(upstreamClose, closeFromClient);
  });

  Deno.test(`${ep}: an upstream refusal (403, 404, 426, 500, or a plain 200) reaches the client as it is`, async () => {
    await using up = httpUpstream((req) => {
      const status = Number(new URL(req.url).pathname.slice(1));
      return new Response(`refused with ${status}\n`, { status, headers: { "x-why": "policy" } });
    });
    await using gw = await tunnelProxy(up.url);
    for (const status of [403, 404, 426, 500, 200]) {
      using client = await upgradeRequest(entry(gw, ep), { target: `/${status}` });
      assert.equal(client.status, status);
      assert.equal(field(client.head, "x-why"), "policy");
      assert.equal(field(client.head, "upgrade"), null);
      const body = await readBody(client.client.reader, client.head, false);
      assert.equal(new TextDecoder().decode(body), `refused with ${status}\n`);
    }
    await waitFor(() => gw.outcomes.length === 5, "five log records");
    assert.deepEqual(gw.outcomes.map((o) => [o.status, o.kind]), [
      [403, "http"],
      [404, "http"],
      [426, "http"],
      [500, "http"],
      [200, "http"],
    ]);
  });

  Deno.test(`${ep}: a refusal with a close-delimited body arrives whole`, async () => {
    await using up = tunnelUpstream(async (peer) => {
      await peer.write("HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\nno token, ");
      await peer.write("no socket\n");
    });
    await using gw = await tunnelProxy(up.url);
    using client = await upgradeRequest(entry(gw, ep));
    assert.equal(client.status, 403);
    const body = await within(5000, "the body", readBody(client.client.reader, client.head, true));
    assert.equal(new TextDecoder().decode(body), "no token, no socket\n");
  });

  Deno.test(`${ep}: an upgrade on a connection that already served a plain request`, async () => {
    await using up = await wsUpstream();
    await using gw = await tunnelProxy(up.url);
    const { port, tls } = entry(gw, ep);
    using client = await connect(port, tls === undefined ? {} : { tls });
    await client.send("GET /plain HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert.equal((await readResponse(client.reader)).text, "plain");
    await client.send(
      "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    const head = await readHead(client.reader);
    assert.equal(head?.startLine, "HTTP/1.1 101 Switching Protocols");
    await client.send(wsFrame(Opcode.text, "kept alive, then upgraded", { mask: true }));
    const echo = wsFrame(Opcode.text, "kept alive, then upgraded");
    assert.deepEqual(await within(5000, "the echo", client.reader.readExactly(echo.length)), echo);
  });

  Deno.test(`${ep}: a route with upgrade: false forwards a plain request and never tunnels`, async () => {
    await using up = tunnelUpstream((peer) =>
      peer.write("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nplain answer")
    );
    await using gw = await tunnelProxy(up.url, { route: "upgrade: false" });
    using client = await upgradeRequest(entry(gw, ep));
    assert.equal(client.status, 200);
    assert.equal(
      new TextDecoder().decode(await readBody(client.client.reader, client.head, false)),
      "plain answer",
    );
    const names = fieldNames(up.heads[0]);
    assert.ok(!names.includes("upgrade"), "Upgrade reached the upstream");
    assert.notEqual(field(up.heads[0], "connection")?.toLowerCase(), "upgrade");
    await assert.rejects(openWebSocket(wsUrl(gw, ep)));
    // Deno's WebSocket client over TLS tries HTTP/2 (RFC 8441) too, which is answered 501.
    await waitFor(() => gw.outcomes.length >= 2, "two log records");
    assert.deepEqual([gw.outcomes[0].status, gw.outcomes[0].kind], [200, "http"]);
    for (const o of gw.outcomes.slice(1)) {
      assert.ok(o.kind === "http" && (o.status === 200 || o.status === 501), JSON.stringify(o));
    }
  });
}

Deno.test("an upstream's 101 nobody asked for is a 502, never a tunnel", async () => {
  // The upstream answers every request 101, naming whatever protocol it likes.
  let protocol = "websocket";
  await using up = tunnelUpstream((peer) =>
    peer.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${protocol}\r\nConnection: Upgrade\r\n\r\n`,
    )
  );
  await using gw = await tunnelProxy(up.url);
  // A plain GET: its connection stays HTTP, the next request on it is read as one.
  using plain = await connect(gw.port("web"));
  for (let i = 0; i < 2; i++) {
    await plain.send("GET /plain HTTP/1.1\r\nHost: localhost\r\n\r\n");
    const res = await within(5000, "an answer", readResponse(plain.reader));
    assert.equal(res.status, 502, res.text);
  }
  // A WebSocket upgrade answered with another protocol.
  protocol = "h2c";
  using other = await upgradeRequest(entry(gw, "web"));
  assert.equal(other.status, 502);
  // HTTP/2 (not an extended CONNECT): a 502 too, not an internal error.
  using client = await tlsClient("2");
  const res = await fetch(gw.url("/h2", "secure"), { client });
  assert.equal(res.status, 502);
  await res.body?.cancel();
  assert.deepEqual(gw.outcomes.map((o) => [o.status, o.kind]), [
    [502, "http"],
    [502, "http"],
    [502, "http"],
    [502, "http"],
  ]);
});

Deno.test("HTTP/2 offers WebSocket by extended CONNECT only: the setting is sent, an h2 Upgrade never tunnels", async () => {
  await using up = await wsUpstream();
  await using gw = await tunnelProxy(up.url);
  const out = await new Deno.Command("nghttp", {
    args: [
      "-nv",
      "-H",
      "upgrade: websocket",
      "-H",
      "sec-websocket-version: 13",
      "-H",
      "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==",
      `https://localhost:${gw.port("secure")}/`,
    ],
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.match(text, /The negotiated protocol: h2/);
  const settings = /recv SETTINGS frame <[^>]*flags=0x00[^>]*>\n((?:\s+[(\[].*\n)+)/.exec(text);
  assert.ok(settings, `no SETTINGS from the server in:\n${text}`);
  assert.match(settings[1], /SETTINGS_ENABLE_CONNECT_PROTOCOL\(0x08\):1|\(0x08\):1/);
  assert.doesNotMatch(text, /:status: 101/);
  assert.equal(up.sessions.length, 0);
});

Deno.test("a 101 and a refused upgrade get Via, the request id and the route's response headers", async () => {
  let refuse = false;
  await using up = tunnelUpstream((peer) =>
    refuse
      ? peer.write("HTTP/1.1 403 Forbidden\r\ncontent-length: 2\r\n\r\nno")
      : accept101(peer, "")
  );
  await using gw = await tunnelProxy(up.url, {
    route: "response_headers: { set: { x-edge: gatehouse }, remove: [server] }",
  });
  using accepted = await upgradeRequest(entry(gw, "web"), { fields: ["X-Request-Id: up-1"] });
  assert.equal(accepted.status, 101);
  assert.equal(field(accepted.head, "via"), "1.1 gatehouse");
  assert.equal(field(accepted.head, "x-request-id"), "up-1");
  assert.equal(field(accepted.head, "x-edge"), "gatehouse");
  refuse = true;
  using refused = await upgradeRequest(entry(gw, "web"), { fields: ["X-Request-Id: up-2"] });
  assert.equal(refused.status, 403);
  assert.equal(field(refused.head, "via"), "1.1 gatehouse");
  assert.equal(field(refused.head, "x-request-id"), "up-2");
  assert.equal(field(refused.head, "x-edge"), "gatehouse");
});
