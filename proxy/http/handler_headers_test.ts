import assert from "node:assert/strict";
import { connect, proxyFor, type TestProxy, tlsClient } from "../testing/proxy.ts";
import { httpUpstream, rawResponse, rawUpstream } from "../testing/servers.ts";
import { field, fieldNames, readResponse } from "../testing/wire.ts";

/** A proxy to `url` that trusts X-Forwarded-* from `trusted`. */
function proxyTo(url: string, trusted: string): Promise<TestProxy> {
  return proxyFor([url], { config: `forwarding: { trusted_proxies: ["${trusted}"] }\n` });
}

const SPOOFED = [
  "X-Forwarded-For: 203.0.113.7",
  "x-forwarded-for: 198.51.100.1",
  "X-Forwarded-Proto: https",
  "X-Forwarded-Host: origin.test",
  "Forwarded: for=203.0.113.7;proto=https",
  "Via: 1.1 edge",
  "X-Real-IP: 203.0.113.7",
  "CF-Connecting-IP: 203.0.113.7",
  "X-Forwarded-Prefix: /evil",
  "X-Original-URL: /admin",
].map((line) => line + "\r\n").join("");

/** Sends a GET for app.test with `extra` header lines; returns the response. */
async function get(gw: TestProxy, extra: string, entrypoint = "web") {
  const tls = gw.config.entrypoints[entrypoint].tls !== null ? "localhost" : undefined;
  using c = await connect(gw.port(entrypoint), { tls });
  await c.send(`GET /h HTTP/1.1\r\nHost: app.test\r\n${extra}Connection: close\r\n\r\n`);
  return await readResponse(c.reader);
}

function forwardedOf(headers: Headers) {
  return Object.fromEntries(
    [
      "x-forwarded-for",
      "x-forwarded-proto",
      "x-forwarded-host",
      "forwarded",
      "via",
      "x-real-ip",
      "cf-connecting-ip",
      "x-forwarded-prefix",
      "x-original-url",
    ]
      .map((name) => [name, headers.get(name)]),
  );
}

Deno.test("a trusted client's X-Forwarded-*, Forwarded, Via and X-Real-IP are kept and appended to", async () => {
  await using up = httpUpstream();
  await using gw = await proxyTo(up.url, "127.0.0.0/8");
  assert.equal((await get(gw, SPOOFED)).status, 200);
  assert.deepEqual(forwardedOf(up.requests[0].headers), {
    "x-forwarded-for": "203.0.113.7, 198.51.100.1, 127.0.0.1",
    "x-forwarded-proto": "https",
    "x-forwarded-host": "origin.test",
    "forwarded": "for=203.0.113.7;proto=https, for=127.0.0.1;host=app.test;proto=http",
    "via": "1.1 edge, 1.1 gatehouse",
    "x-real-ip": "203.0.113.7",
    "cf-connecting-ip": "203.0.113.7",
    "x-forwarded-prefix": "/evil",
    "x-original-url": "/admin",
  });
});

Deno.test("an untrusted client's X-Forwarded-*, Forwarded, X-Real-IP and other proxy claims are overwritten or removed", async () => {
  await using up = httpUpstream();
  await using gw = await proxyTo(up.url, "10.0.0.0/8");
  assert.equal((await get(gw, SPOOFED)).status, 200);
  assert.equal((await get(gw, SPOOFED, "websecure")).status, 200);
  assert.deepEqual(forwardedOf(up.requests[0].headers), {
    "x-forwarded-for": "127.0.0.1",
    "x-forwarded-proto": "http",
    "x-forwarded-host": "app.test",
    "forwarded": "for=127.0.0.1;host=app.test;proto=http",
    // Via is a trace, not a trust claim: every proxy appends itself (RFC 9110 7.6.3).
    "via": "1.1 edge, 1.1 gatehouse",
    // Applications read these in place of X-Forwarded-For: the peer's, or none.
    "x-real-ip": "127.0.0.1",
    "cf-connecting-ip": null,
    // Frameworks build URLs from X-Forwarded-Prefix/-Port and take X-Original-URL for the path.
    "x-forwarded-prefix": null,
    "x-original-url": null,
  });
  assert.equal(up.requests[1].headers.get("x-forwarded-proto"), "https");
  assert.equal(up.requests[1].headers.get("forwarded"), "for=127.0.0.1;host=app.test;proto=https");
});

Deno.test("X-Request-Id passes through when given, is generated otherwise, and is echoed", async () => {
  await using up = httpUpstream();
  await using gw = await proxyTo(up.url, "10.0.0.0/8");
  const given = await get(gw, "X-Request-Id: abc-123\r\n");
  assert.equal(up.requests[0].headers.get("x-request-id"), "abc-123");
  assert.equal(field(given, "x-request-id"), "abc-123");

  const made = await get(gw, "");
  const id = up.requests[1].headers.get("x-request-id");
  assert.match(id ?? "", /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(field(made, "x-request-id"), id);

  // An id with spaces or over 200 characters is not trusted: a new one replaces it.
  for (const bad of ["a b", "x".repeat(201)]) {
    const res = await get(gw, `X-Request-Id: ${bad}\r\n`);
    const sent = up.requests.at(-1)!.headers.get("x-request-id");
    assert.notEqual(sent, bad);
    assert.equal(field(res, "x-request-id"), sent);
  }
});

const HOP_REQUEST = [
  "Connection: keep-alive, X-Foo",
  "connection: X-Bar",
  "X-Foo: bar",
  "X-Bar: baz",
  "Keep-Alive: timeout=5",
  "TE: trailers",
  "Proxy-Connection: keep-alive",
  "Trailer: X-Checksum",
  "Upgrade: h2c",
  "Proxy-Authorization: Basic Zm9vOmJhcg==",
  "X-Keep: yes",
].map((line) => line + "\r\n").join("");

const HOP_NAMES = [
  "connection",
  "x-foo",
  "x-bar",
  "keep-alive",
  "te",
  "proxy-connection",
  "trailer",
  "upgrade",
  "proxy-authorization",
  "proxy-authenticate",
];

/** A raw upstream that answers with every kind of hop-by-hop field. */
function hopUpstream() {
  return rawUpstream(async (_req, conn) => {
    await conn.write(rawResponse(200, [
      ["Connection", "keep-alive, X-Foo"],
      ["X-Foo", "1"],
      ["Keep-Alive", "timeout=5, max=100"],
      ["Proxy-Connection", "keep-alive"],
      ["TE", "trailers"],
      ["Trailer", "X-Checksum"],
      ["Upgrade", "h2c"],
      ["Proxy-Authenticate", "Basic"],
      ["X-Keep", "yes"],
    ], "ok"));
  });
}

Deno.test("hop-by-hop request fields, and those Connection names, never reach the upstream", async () => {
  await using up = hopUpstream();
  await using gw = await proxyTo(up.url, "10.0.0.0/8");
  for (const entrypoint of ["web", "websecure"]) {
    const tls = entrypoint === "websecure" ? "localhost" : undefined;
    using c = await connect(gw.port(entrypoint), { tls });
    await c.send(`GET /h HTTP/1.1\r\nHost: app.test\r\n${HOP_REQUEST}\r\n`);
    assert.equal((await readResponse(c.reader)).status, 200);
  }
  assert.equal(up.requests.length, 2);
  for (const req of up.requests) {
    const names = fieldNames(req);
    for (const name of HOP_NAMES) assert.ok(!names.includes(name), `${name} in\n${req.raw}`);
    assert.equal(field(req, "x-keep"), "yes");
  }
});

Deno.test("hop-by-hop response fields never reach an HTTP/1.1 client, on the raw bytes", async () => {
  await using up = hopUpstream();
  await using gw = await proxyTo(up.url, "10.0.0.0/8");
  for (const entrypoint of ["web", "websecure"]) {
    const tls = entrypoint === "websecure" ? "localhost" : undefined;
    using c = await connect(gw.port(entrypoint), { tls });
    // Keep-alive, so that the proxy has no reason to send a Connection field of its own.
    await c.send(`GET /h HTTP/1.1\r\nHost: app.test\r\n\r\n`);
    const res = await readResponse(c.reader);
    const names = fieldNames(res);
    for (const name of HOP_NAMES) assert.ok(!names.includes(name), `${name} in\n${res.raw}`);
    assert.equal(field(res, "x-keep"), "yes");
    assert.equal(field(res, "via"), "1.1 gatehouse");
    assert.equal(res.text, "ok");
  }
});

Deno.test("hop-by-hop response fields never reach an h2 client", async () => {
  await using up = hopUpstream();
  await using gw = await proxyTo(up.url, "10.0.0.0/8");
  using client = await tlsClient("2");
  const res = await fetch(gw.url("/h", "websecure"), { client });
  assert.equal(await res.text(), "ok");
  for (const name of HOP_NAMES) assert.equal(res.headers.get(name), null, name);
  assert.equal(res.headers.get("x-keep"), "yes");
  assert.equal(res.headers.get("via"), "1.1 gatehouse");
});
