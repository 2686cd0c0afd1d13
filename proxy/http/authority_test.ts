import assert from "node:assert/strict";
import type { ServerRef } from "../config/types.ts";
import { parseAuthority, upstreamHost } from "./authority.ts";

Deno.test("parseAuthority takes host [':' port] with names, IPv4 and IPv6 literals", () => {
  const valid: [string, string][] = [
    ["example.com", "example.com"],
    ["Example.COM:8443", "example.com:8443"],
    ["a_b-c.~x", "a_b-c.~x"],
    ["127.0.0.1", "127.0.0.1"],
    ["127.0.0.1:80", "127.0.0.1:80"],
    ["[::1]", "[::1]"],
    ["[2001:DB8::1]:443", "[2001:db8::1]:443"],
    ["example.com.", "example.com."],
    ["localhost:65535", "localhost:65535"],
    ["", ""],
  ];
  for (const [value, expected] of valid) assert.equal(parseAuthority(value), expected, value);
});

Deno.test("parseAuthority refuses what is not one valid authority", () => {
  for (
    const value of [
      "a, b", // two Host values joined
      "a,b",
      "local host",
      "evil.example/x",
      "x@y", // userinfo
      "user:pw@host",
      "host:", // empty port
      "host:-1",
      "host:65536",
      "host:123456",
      "host:80:80",
      ":80", // no host
      "[::1", // unclosed literal
      "[::1]x",
      "[v1.fe]", // IPvFuture
      "[fe80::1%25eth0]", // zone id
      "[127.0.0.1]",
      "exa%6dple.com", // percent-encoding
      "a!b",
      "a;b",
      "h\u00e9.example", // not ASCII (IDNs arrive as punycode)
      "host\t",
      "a".repeat(300),
    ]
  ) {
    assert.equal(parseAuthority(value), null, JSON.stringify(value));
  }
});

Deno.test("upstreamHost: preserve (the server's when the client sent none), upstream, fixed", () => {
  const server: ServerRef = {
    url: "http://app:3000",
    scheme: "http",
    hostname: "app",
    port: 3000,
    path: null,
    weight: 1,
  };
  const tls: ServerRef = {
    ...server,
    url: "https://[::1]",
    scheme: "https",
    hostname: "::1",
    port: 443,
  };
  assert.equal(upstreamHost("preserve", "example.com", server), "example.com");
  assert.equal(upstreamHost("preserve", "", server), "app:3000");
  assert.equal(upstreamHost("preserve", "", tls), "[::1]");
  assert.equal(upstreamHost("upstream", "example.com", server), "app:3000");
  assert.equal(
    upstreamHost("internal.example:8080", "example.com", server),
    "internal.example:8080",
  );
});
