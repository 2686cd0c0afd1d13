import assert from "node:assert/strict";
import {
  address,
  cidr,
  headerMatch,
  headerName,
  headerValue,
  hostHeader,
  hostName,
  hostPattern,
  serverUrl,
  statusRange,
  tlsVersion,
} from "./net_values.ts";
import { message, value } from "./test_helpers.ts";

Deno.test("addresses: all interfaces, IPv4, IPv6, names, port 0", () => {
  const a = address();
  assert.deepEqual(value(a, ":8080"), { hostname: "0.0.0.0", port: 8080 });
  assert.deepEqual(value(a, "127.0.0.1:9901"), { hostname: "127.0.0.1", port: 9901 });
  assert.deepEqual(value(a, "[::1]:8443"), { hostname: "::1", port: 8443 });
  assert.deepEqual(value(a, "[::]:443"), { hostname: "::", port: 443 });
  assert.deepEqual(value(a, "LocalHost:8080"), { hostname: "localhost", port: 8080 });
  assert.deepEqual(value(a, "127.0.0.1:0"), { hostname: "127.0.0.1", port: 0 });
});

Deno.test("addresses: missing port, bad port, bad host are refused", () => {
  const a = address();
  const expected = `expected an address like ":8080", "127.0.0.1:8080" or "[::1]:8443"`;
  assert.equal(message(a, "8080"), `${expected}, found "8080"`);
  assert.equal(message(a, 8080), `${expected}, found 8080`);
  assert.equal(message(a, "localhost"), `${expected}, found "localhost"`);
  assert.equal(message(a, ":70000"), `port 70000 in ":70000" is out of range (0-65535)`);
  assert.equal(message(a, "[1.2.3]:80"), `"1.2.3" in "[1.2.3]:80" is not an IPv6 address`);
  assert.equal(message(a, "-bad-:80"), `"-bad-" in "-bad-:80" is not a host name or IPv4 address`);
  assert.equal(message(a, "off"), `${expected}, found "off"`);
});

Deno.test('addresses with off: "off" and false disable', () => {
  const a = address({ off: true });
  assert.equal(value(a, "off"), null);
  assert.equal(value(a, false), null);
  assert.deepEqual(value(a, "127.0.0.1:9901"), { hostname: "127.0.0.1", port: 9901 });
});

Deno.test("CIDRs: blocks and single addresses, masked to the network", () => {
  const c = cidr();
  const ten = value(c, "10.1.2.3/8");
  assert.deepEqual({ ...ten, bytes: [...ten.bytes] }, {
    text: "10.1.2.3/8",
    family: 4,
    bytes: [10, 0, 0, 0],
    prefix: 8,
  });
  const one = value(c, "127.0.0.1");
  assert.deepEqual([one.family, one.prefix, [...one.bytes]], [4, 32, [127, 0, 0, 1]]);
  const v6 = value(c, "::1");
  assert.deepEqual([v6.family, v6.prefix, v6.bytes.length, v6.bytes[15]], [6, 128, 16, 1]);
  const fd = value(c, "fd12:3456::/8");
  assert.deepEqual([fd.prefix, [...fd.bytes.slice(0, 3)]], [8, [0xfd, 0, 0]]);
  const odd = value(c, "192.168.1.200/25");
  assert.equal(odd.bytes[3], 128);
});

Deno.test("CIDRs: bad prefixes and non-addresses are refused", () => {
  const c = cidr();
  assert.equal(message(c, "10.0.0.0/33"), "prefix /33 is longer than the address (32 bits)");
  assert.equal(message(c, "::/129"), "prefix /129 is longer than the address (128 bits)");
  const expected = `expected a CIDR block like "10.0.0.0/8" or an IP address like "::1"`;
  assert.equal(message(c, "nope"), `${expected}, found "nope"`);
  assert.equal(message(c, "10.0.0/8"), `${expected}, found "10.0.0/8"`);
});

Deno.test("server URLs are normalised: lowercase, explicit port, no path", () => {
  const u = serverUrl();
  assert.deepEqual(value(u, "HTTP://App:3000/"), {
    url: "http://app:3000",
    scheme: "http",
    hostname: "app",
    port: 3000,
    path: null,
  });
  assert.equal(value(u, "http://app").url, "http://app:80");
  assert.deepEqual(value(u, "https://api.internal"), {
    url: "https://api.internal:443",
    scheme: "https",
    hostname: "api.internal",
    port: 443,
    path: null,
  });
  const v6 = value(u, "http://[::1]:3000");
  assert.deepEqual([v6.url, v6.hostname], ["http://[::1]:3000", "::1"]);
});

Deno.test("server URLs on unix sockets: unix:// for HTTP, unix+tcp:// for byte streams", () => {
  const u = serverUrl();
  assert.deepEqual(value(u, "unix:///run/app.sock"), {
    url: "unix:///run/app.sock",
    scheme: "unix",
    hostname: "",
    port: 0,
    path: "/run/app.sock",
  });
  assert.equal(value(u, "UNIX+TCP:///run/db.sock").url, "unix+tcp:///run/db.sock");
  assert.equal(
    message(u, "unix://run/app.sock"),
    `a unix:// server names an absolute socket path after "//", like "unix:///run/app.sock" ` +
      `(three slashes), found "unix://run/app.sock"`,
  );
  assert.equal(
    message(u, "unix:///run/app.sock?x"),
    `a socket path cannot hold control characters, "?" or "#": "/run/app.sock?x"`,
  );
  const long = "/" + "d".repeat(120);
  assert.equal(
    message(u, `unix+tcp://${long}`),
    `socket path "${long}" is 121 bytes long: Linux allows at most 107; use a shorter directory`,
  );
});

Deno.test("server URLs: other schemes, paths, queries and user info are refused", () => {
  const u = serverUrl();
  const expected =
    `expected a server URL like "http://app:3000", "https://api:8443", "h2c://grpc:50051", ` +
    `"tcp://db:5432", "udp://dns:53" or "unix:///run/app.sock"`;
  assert.equal(message(u, "ftp://x"), `${expected}, found "ftp://x"`);
  assert.equal(message(u, "app:3000"), `${expected}, found "app:3000"`);
  assert.equal(
    message(u, "http://app:3000/api"),
    `a server URL has no path: remove "/api" (see "strip_prefix" on routes)`,
  );
  assert.equal(message(u, "http://app/?a=1"), "a server URL cannot have a query or fragment");
  assert.equal(message(u, "http://u:p@app"), "a server URL cannot hold a user name or password");
  assert.equal(message(u, "udp://dns"), `a udp:// server needs a port, like "udp://dns:53"`);
});

Deno.test("hosts: names and wildcards lowercased; * alone only where allowed", () => {
  assert.equal(value(hostPattern(), "App.Example.COM"), "app.example.com");
  assert.equal(value(hostPattern(), "*.Example.com"), "*.example.com");
  assert.equal(value(hostPattern({ any: true }), "*"), "*");
  const expected = `expected a host name like "app.example.com" or "*.example.com"`;
  assert.equal(message(hostPattern(), "*"), `${expected}, found "*"`);
  assert.equal(message(hostPattern(), "a.*.com"), `${expected}, found "a.*.com"`);
  assert.equal(message(hostPattern(), "bad host"), `${expected}, found "bad host"`);
  assert.equal(
    message(hostPattern(), "app.localhost:8443"),
    `${expected}, found "app.localhost:8443"`,
  );
  const long = `${"a".repeat(60)}.`.repeat(5) + "com";
  assert.equal(message(hostPattern(), long), `host name "${long}" is longer than 253 characters`);
  assert.equal(value(hostName(), "API.internal"), "api.internal");
  assert.equal(
    message(hostName(), "*.x"),
    `expected a host name like "api.internal", found "*.x"`,
  );
});

Deno.test("Host header setting: preserve, upstream, or host[:port]", () => {
  const h = hostHeader();
  assert.equal(value(h, "preserve"), "preserve");
  assert.equal(value(h, "upstream"), "upstream");
  assert.equal(value(h, "app.internal:8080"), "app.internal:8080");
  assert.equal(value(h, "[::1]:8080"), "[::1]:8080");
  assert.equal(
    message(h, "a b"),
    `expected "preserve", "upstream" or a host like "app.internal:8080", found "a b"`,
  );
});

Deno.test("header names are lowercased tokens; hop-by-hop headers cannot be set", () => {
  assert.equal(value(headerName(), "X-Request-ID"), "x-request-id");
  assert.equal(value(headerName(), "Connection"), "connection");
  assert.equal(
    message(headerName(), "x y"),
    `expected a header name like "x-request-id", found "x y"`,
  );
  const framing = ["Connection", "keep-alive", "TE", "transfer-encoding", "upgrade", "trailer"];
  for (const name of [...framing, "proxy-connection", "content-length"]) {
    assert.equal(
      message(headerName({ settable: true }), name),
      `Cannot set "${name.toLowerCase()}": Gatehouse manages this header for each connection`,
    );
  }
  assert.equal(value(headerName({ settable: true }), "X-Frame-Options"), "x-frame-options");
});

Deno.test("header values and header matches", () => {
  assert.equal(value(headerValue(), "max-age=300"), "max-age=300");
  assert.equal(value(headerValue(), 2, "2"), "2");
  assert.equal(
    message(headerValue(), "a\nb"),
    `expected a header value without line breaks, found "a\\nb"`,
  );
  assert.equal(value(headerMatch(), true), null);
  assert.equal(value(headerMatch(), "json"), "json");
  assert.equal(value(headerMatch(), 1, "1"), "1");
  assert.equal(message(headerMatch(), false), "expected a header value or true, found false");
});

Deno.test("status ranges: single codes, ranges, numbers", () => {
  const s = statusRange();
  assert.deepEqual(value(s, "200"), [200, 200]);
  assert.deepEqual(value(s, 204), [204, 204]);
  assert.deepEqual(value(s, "200-299"), [200, 299]);
  assert.equal(message(s, "300-200"), `status range "300-200" ends before it starts`);
  assert.equal(
    message(s, "600"),
    `expected a status or range like "200" or "200-399", found "600"`,
  );
  assert.equal(
    message(s, "2xx"),
    `expected a status or range like "200" or "200-399", found "2xx"`,
  );
});

Deno.test("min_version: 1.2 only, and why not 1.3", () => {
  const v = tlsVersion();
  assert.equal(value(v, "1.2"), "1.2");
  assert.equal(value(v, 1.2, "1.2"), "1.2");
  assert.equal(
    message(v, 1.3, "1.3"),
    `Cannot require TLS 1.3: Deno's TLS stack negotiates TLS 1.2 and 1.3 and cannot refuse 1.2; remove "min_version"`,
  );
  assert.equal(message(v, "1.1"), `expected "1.2", found "1.1"`);
});
