import assert from "node:assert/strict";
import { HeaderList } from "../proto/header_list.ts";
import {
  applyForwarding,
  dropProxyClaims,
  forwardTrailers,
  isProxyClaim,
  requestId,
  stripHopByHop,
} from "./headers.ts";
import type { ClientInfo } from "../proto/message.ts";

Deno.test("stripHopByHop removes hop-by-hop fields and every field Connection names", () => {
  const headers = HeaderList.from([
    ["Connection", "keep-alive, X-Foo"],
    ["connection", " x-bar ,,"],
    ["X-Foo", "1"],
    ["X-Bar", "2"],
    ["Keep-Alive", "timeout=5"],
    ["TE", "trailers"],
    ["Trailer", "X-Sum"],
    ["Transfer-Encoding", "chunked"],
    ["Upgrade", "websocket"],
    ["Proxy-Connection", "keep-alive"],
    ["Proxy-Authenticate", "Basic"],
    ["Proxy-Authorization", "Basic eA=="],
    ["X-Keep", "yes"],
    ["Authorization", "Bearer t"],
  ]);
  stripHopByHop(headers);
  assert.deepEqual(headers.entries(), [["X-Keep", "yes"], ["Authorization", "Bearer t"]]);
});

Deno.test("stripHopByHop keeps a tunnel's Upgrade and sets Connection: upgrade", () => {
  const headers = HeaderList.from([
    ["Connection", "Upgrade, X-Foo"],
    ["Upgrade", "websocket"],
    ["X-Foo", "1"],
    ["Sec-WebSocket-Key", "k"],
  ]);
  stripHopByHop(headers, "websocket");
  assert.deepEqual(headers.entries(), [
    ["Sec-WebSocket-Key", "k"],
    ["connection", "upgrade"],
    ["upgrade", "websocket"],
  ]);
});

function client(address: string): ClientInfo {
  return { address, port: 5000, entrypoint: "web", tls: true, serverName: null };
}

/** What a proxy in front may claim about the request (all but X-Real-IP kept by a trusted one). */
const CLAIMS: [string, string][] = [
  ["X-Real-IP", "1.2.3.4"],
  ["CF-Connecting-IP", "1.2.3.4"],
  ["True-Client-IP", "1.2.3.4"],
  ["X-Client-IP", "1.2.3.4"],
  ["Fastly-Client-IP", "1.2.3.4"],
  ["X-Cluster-Client-IP", "1.2.3.4"],
  ["X-Forwarded-Prefix", "/evil"],
  ["X-Forwarded-Port", "8443"],
  ["X-Forwarded-Ssl", "on"],
  ["X-Original-URL", "/admin"],
  ["X-Rewrite-URL", "/admin"],
  ["X-Original-Method", "GET"],
];

Deno.test("isProxyClaim: the X-Forwarded-* family and the other fields a proxy in front sets", () => {
  for (const [name] of CLAIMS) assert.ok(isProxyClaim(name.toLowerCase()), name);
  for (const name of ["x-forwarded-anything", "forwarded"]) assert.ok(isProxyClaim(name), name);
  for (const name of ["x-request-id", "via", "host", "x-original", "authorization"]) {
    assert.ok(!isProxyClaim(name), name);
  }
});

Deno.test("dropProxyClaims and applyForwarding: nothing an untrusted client claims goes on", () => {
  const headers = HeaderList.from([
    ["X-Forwarded-For", "1.2.3.4"],
    ["x-forwarded-for", "5.6.7.8"],
    ["X-Forwarded-Proto", "http"],
    ["X-Forwarded-Host", "evil.test"],
    ["Forwarded", "for=1.2.3.4"],
    ["Via", "1.0 edge"],
    ...CLAIMS,
    ["X-Keep", "1"],
  ]);
  dropProxyClaims(headers);
  applyForwarding(headers, {
    client: client("203.0.113.9"),
    trusted: false,
    proto: "https",
    host: "app.test",
    via: "1.1 gatehouse",
    clientIp: "203.0.113.9",
  });
  assert.equal(headers.getJoined("x-real-ip"), "203.0.113.9");
  for (const [name] of CLAIMS.slice(1)) assert.equal(headers.get(name.toLowerCase()), null, name);
  assert.equal(headers.get("x-keep"), "1");
  assert.equal(headers.getJoined("x-forwarded-for"), "203.0.113.9");
  assert.equal(headers.getJoined("x-forwarded-proto"), "https");
  assert.equal(headers.getJoined("x-forwarded-host"), "app.test");
  assert.equal(headers.getJoined("forwarded"), "for=203.0.113.9;host=app.test;proto=https");
  assert.equal(headers.getJoined("via"), "1.0 edge, 1.1 gatehouse");
});

Deno.test("applyForwarding appends to what a trusted proxy sent", () => {
  const headers = HeaderList.from([
    ["X-Forwarded-For", "1.2.3.4"],
    ["x-forwarded-for", "5.6.7.8"],
    ["X-Forwarded-Proto", "https"],
    ["Forwarded", "for=1.2.3.4"],
    ...CLAIMS.slice(1),
  ]);
  applyForwarding(headers, {
    client: client("2001:db8::1"),
    trusted: true,
    proto: "http",
    host: "app.test:8080",
    via: "2 gatehouse",
    clientIp: "5.6.7.8",
  });
  // No X-Real-IP from the trusted proxy: the address resolved from its X-Forwarded-For.
  assert.equal(headers.getJoined("x-real-ip"), "5.6.7.8");
  // A trusted proxy's other claims go on as they came.
  for (const [name, value] of CLAIMS.slice(1)) {
    assert.equal(headers.get(name.toLowerCase()), value, name);
  }
  assert.equal(headers.getJoined("x-forwarded-for"), "1.2.3.4, 5.6.7.8, 2001:db8::1");
  assert.equal(headers.getJoined("x-forwarded-proto"), "https");
  assert.equal(headers.getJoined("x-forwarded-host"), "app.test:8080");
  // IPv6 nodes are bracketed and quoted, a host with a port is quoted (RFC 7239 4, 6).
  assert.equal(
    headers.getJoined("forwarded"),
    'for=1.2.3.4, for="[2001:db8::1]";host="app.test:8080";proto=http',
  );
  assert.equal(headers.getJoined("via"), "2 gatehouse");
  // A trusted proxy's own X-Real-IP is kept as it came.
  const theirs = HeaderList.from([["X-Real-IP", "192.0.2.4"]]);
  applyForwarding(theirs, {
    client: client("10.0.0.2"),
    trusted: true,
    proto: "http",
    host: "app.test",
    via: "1.1 gatehouse",
    clientIp: "10.0.0.2",
  });
  assert.equal(theirs.getJoined("x-real-ip"), "192.0.2.4");
});

Deno.test("requestId keeps a sane id and replaces a missing or odd one", () => {
  const given = HeaderList.from([["X-Request-Id", "abc-123"]]);
  assert.equal(requestId(given, "x-request-id"), "abc-123");
  for (const odd of [null, "", "a b", "x".repeat(201), "caf\xe9"]) {
    const headers = odd === null ? new HeaderList() : HeaderList.from([["x-request-id", odd]]);
    const id = requestId(headers, "x-request-id");
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(headers.entries().filter(([n]) => n.toLowerCase() === "x-request-id"), [
      ["x-request-id", id],
    ]);
  }
});

Deno.test("applyForwarding for a client of a unix socket: for=unknown, no address in XFF", () => {
  const unix = client("unix:/run/gh.sock");
  const claimed = () =>
    HeaderList.from([
      ["X-Forwarded-For", "1.2.3.4"],
      ["Forwarded", "for=1.2.3.4"],
      ["X-Real-IP", "1.2.3.4"],
    ]);
  const facts = {
    client: unix,
    proto: "http",
    host: "app.test",
    via: "1.1 gatehouse",
    clientIp: unix.address,
  };
  const untrusted = claimed();
  applyForwarding(untrusted, { ...facts, trusted: false });
  assert.equal(untrusted.getJoined("x-forwarded-for"), null);
  assert.equal(untrusted.getJoined("x-real-ip"), null);
  assert.equal(untrusted.getJoined("forwarded"), "for=unknown;host=app.test;proto=http");
  const trusted = claimed();
  applyForwarding(trusted, { ...facts, trusted: true });
  assert.equal(trusted.getJoined("x-forwarded-for"), "1.2.3.4");
  assert.equal(trusted.getJoined("x-real-ip"), "1.2.3.4");
  assert.equal(
    trusted.getJoined("forwarded"),
    "for=1.2.3.4, for=unknown;host=app.test;proto=http",
  );
});

Deno.test("forwardTrailers keeps what a trailer section may carry on, and asks once", async () => {
  let asked = 0;
  const trailers = forwardTrailers(() => {
    asked++;
    return Promise.resolve(HeaderList.from([
      ["grpc-status", "0"],
      ["X-Checksum", "abc"],
      ["Authorization", "Bearer x"],
      ["Content-Length", "5"],
      ["Via", "1.1 evil"],
      ...CLAIMS,
      ["X-Forwarded-For", "1.2.3.4"],
      ["Forwarded", "for=1.2.3.4"],
    ]));
  });
  const kept = await trailers();
  assert.deepEqual(kept?.entries(), [["grpc-status", "0"], ["X-Checksum", "abc"]]);
  assert.equal(await trailers(), kept);
  assert.equal(asked, 1);
});
