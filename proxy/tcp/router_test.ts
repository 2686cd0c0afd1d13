import assert from "node:assert/strict";
import type { TcpRoute } from "../config/types.ts";
import { TcpRouter } from "./router.ts";
import { checkHostCases, HOST_PATTERNS } from "../net/host_table_cases.ts";

function route(name: string, entrypoints: string[], sni: string[], passthrough = false): TcpRoute {
  return {
    name,
    index: 0,
    entrypoints,
    sni,
    passthrough,
    service: "svc",
    proxyProtocol: "off",
    timeouts: { idle: 0, connect: 1000 },
    pos: { file: "t.yaml", line: 1, col: 1 },
  };
}

Deno.test("SNI: exact name, then the wildcard one label up, then the default route", () => {
  const routes = [
    route("wild", ["edge"], ["*.example.com"], true),
    route("exact", ["edge"], ["api.example.com", "other.test"], true),
    route("default", ["edge"], []),
    route("elsewhere", ["db"], ["x.example.com"], true),
  ];
  const router = new TcpRouter(routes, "edge");
  const name = (sni: string | null) => router.match(sni)?.name ?? null;
  assert.equal(name("api.example.com"), "exact");
  assert.equal(name("other.test"), "exact");
  assert.equal(name("www.example.com"), "wild");
  assert.equal(name("x.example.com"), "wild");
  assert.equal(name("a.b.example.com"), "default");
  assert.equal(name("example.com"), "default");
  assert.equal(name(null), "default");
  assert.deepEqual(router.routes.map((r) => r.name), ["wild", "exact", "default"]);
  assert.equal(router.bySni, true);
});

Deno.test("without a default route, an unknown name has no route; one plain route needs no SNI", () => {
  const sniOnly = new TcpRouter([route("a", ["edge"], ["a.test"], true)], "edge");
  assert.equal(sniOnly.match("b.test"), null);
  assert.equal(sniOnly.match(null), null);
  assert.equal(sniOnly.fallback, null);
  const plain = new TcpRouter([route("db", ["db"], [])], "db");
  assert.equal(plain.bySni, false);
  assert.equal(plain.fallback?.name, "db");
  // A passthrough default route still needs the ClientHello looked at (to log its SNI).
  const passthrough = new TcpRouter([route("p", ["edge"], [], true)], "edge");
  assert.equal(passthrough.bySni, true);
});

Deno.test("SNI matching passes the shared host table cases", () => {
  const routes = HOST_PATTERNS.map((p) => route(p, ["edge"], [p], true));
  const router = new TcpRouter(routes, "edge");
  assert.deepEqual(checkHostCases((name) => router.match(name)?.name ?? null), []);
});
