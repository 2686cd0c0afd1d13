import assert from "node:assert/strict";
import { configOf, yaml } from "../config/test_helpers.ts";
import { HeaderList } from "../proto/header_list.ts";
import { hostOf, normalizedTarget, normalizePath, pathMatches, Router } from "./router.ts";
import { checkHostCases, HOST_PATTERNS } from "../net/host_table_cases.ts";

/** A router for entrypoint `web` over `routes` (YAML flow items; each names itself). */
async function routerOf(...routes: string[]): Promise<Router> {
  const config = await configOf(yaml`
    entrypoints:
      web: { address: ":8080" }
      admin: { address: ":8081" }
    routes:
      ${routes.map((r) => `- ${r}`).join("\n      ")}
    services: { app: { servers: ["http://127.0.0.1:1"] } }
  `);
  return new Router(config.routes, "web");
}

function matcher(router: Router) {
  return (host: string, path: string, method = "GET", headers: [string, string][] = []) =>
    router.match(host, path, method, HeaderList.from(headers))?.name ?? null;
}

Deno.test("the most specific route wins: host, then path length, method, headers, order", async () => {
  const match = matcher(
    await routerOf(
      `{ name: any-root, service: app }`,
      `{ name: any-long, match: { path: /a/b/c/d }, service: app }`,
      `{ name: wild, match: { host: "*.example.com" }, service: app }`,
      `{ name: exact, match: { host: app.example.com }, service: app }`,
      `{ name: exact-a, match: { host: app.example.com, path: /a }, service: app }`,
      `{ name: exact-ab, match: { host: app.example.com, path: /a/b }, service: app }`,
      `{ name: exact-a-header, match: { host: app.example.com, path: /a, headers: { x-v: "2" } }, service: app }`,
      `{ name: exact-a-post, match: { host: app.example.com, path: /a, methods: [post] }, service: app }`,
      `{ name: exact-a-second, match: { host: app.example.com, path: /a }, service: app }`,
    ),
  );
  assert.equal(match("app.example.com", "/"), "exact");
  assert.equal(match("app.example.com", "/a"), "exact-a");
  assert.equal(match("app.example.com", "/a/b/x"), "exact-ab");
  assert.equal(match("app.example.com", "/a", "POST", [["x-v", "2"]]), "exact-a-post");
  assert.equal(match("app.example.com", "/a", "GET", [["x-v", "2"]]), "exact-a-header");
  assert.equal(match("app.example.com", "/a", "GET", [["x-v", "3"]]), "exact-a");
  // The host decides before the path: a longer path for any host loses to a host route.
  assert.equal(match("app.example.com", "/a/b/c/d"), "exact-ab");
  assert.equal(match("www.example.com", "/a/b/c/d"), "wild");
  assert.equal(match("other.test", "/a/b/c/d/e"), "any-long");
  assert.equal(match("other.test", "/a/b/c/dd"), "any-root");
});

Deno.test("a wildcard covers exactly one label, as in a certificate", async () => {
  const match = matcher(
    await routerOf(
      `{ name: shallow, match: { host: "*.example.com" }, service: app }`,
      `{ name: deep, match: { host: "*.eu.example.com" }, service: app }`,
    ),
  );
  assert.equal(match("a.example.com", "/"), "shallow");
  assert.equal(match("a.b.c.example.com", "/"), null);
  assert.equal(match("x.eu.example.com", "/"), "deep");
  assert.equal(match("y.x.eu.example.com", "/"), null);
  assert.equal(match("eu.example.com", "/"), "shallow");
  assert.equal(match("example.com", "/"), null);
  assert.equal(match("badexample.com", "/"), null);
});

Deno.test("header conditions: exact value, or presence; routes of other entrypoints are left out", async () => {
  const match = matcher(
    await routerOf(
      `{ name: has-token, match: { headers: { x-token: true } }, service: app }`,
      `{ name: beta, match: { headers: { x-beta: "yes" } }, service: app }`,
      `{ name: admin-only, entrypoints: [admin], match: { path: /admin }, service: app }`,
    ),
  );
  assert.equal(match("h", "/", "GET", [["x-token", ""]]), "has-token");
  assert.equal(match("h", "/", "GET", [["x-beta", "yes"]]), "beta");
  assert.equal(match("h", "/", "GET", [["x-beta", "YES"]]), null);
  assert.equal(match("h", "/admin"), null);
});

Deno.test("pathMatches matches prefixes on segment boundaries only", () => {
  assert.ok(pathMatches("/", "/anything"));
  assert.ok(pathMatches("/api", "/api"));
  assert.ok(pathMatches("/api", "/api/"));
  assert.ok(pathMatches("/api", "/api/x/y"));
  assert.ok(pathMatches("/api", "/api;jsessionid=1/x"), "a segment's parameters");
  assert.ok(!pathMatches("/api", "/apix"));
  assert.ok(!pathMatches("/api", "/ap"));
  assert.ok(!pathMatches("/api", "/API"));
  assert.ok(!pathMatches("/api/v1", "/api/v10"));
});

Deno.test("normalizePath removes dot segments, merges slashes and decodes only unreserved characters", () => {
  const cases: [string, string][] = [
    ["/a/b", "/a/b"],
    ["/a/./b", "/a/b"],
    ["/a/../b", "/b"],
    ["/../../a", "/a"],
    ["/a/b/..", "/a/"],
    ["/a/b/.", "/a/b/"],
    ["/a/.b/..c", "/a/.b/..c"],
    ["/%61pi", "/api"],
    ["/%7Euser/%2D%5F%2E", "/~user/-_."],
    ["/%2e%2e/admin", "/admin"],
    ["/api/%2E%2E/admin", "/admin"],
    // Encoded slashes, and reserved or non-ASCII bytes, stay encoded (uppercased).
    ["/a%2Fb", "/a%2Fb"],
    ["/a%2fb/..", "/"],
    ["/a%2f..%2fb", "/a%2F..%2Fb"],
    ["/q%3fx%c3%a9", "/q%3Fx%C3%A9"],
    // Runs of slashes are one.
    ["/a//b", "/a/b"],
    ["//admin", "/admin"],
    ["/a/.//..//b", "/b"],
  ];
  for (const [input, expected] of cases) assert.equal(normalizePath(input), expected, input);
});

Deno.test("hostOf drops the port, brackets and a trailing dot", () => {
  assert.equal(hostOf("example.com:8443"), "example.com");
  assert.equal(hostOf("example.com"), "example.com");
  assert.equal(hostOf("example.com."), "example.com");
  assert.equal(hostOf("example.com.:80"), "example.com");
  assert.equal(hostOf("[::1]:8080"), "::1");
  assert.equal(hostOf("[::1]"), "::1");
  assert.equal(hostOf(""), "");
});

Deno.test("host matching passes the shared host table cases", async () => {
  const router = await routerOf(
    ...HOST_PATTERNS.map((p, i) => `{ name: r${i}, match: { host: "${p}" }, service: app }`),
  );
  const match = matcher(router);
  const winner = (name: string) => {
    const route = match(hostOf(name.toLowerCase()), "/");
    return route === null ? null : HOST_PATTERNS[Number(route.slice(1))];
  };
  assert.deepEqual(checkHostCases(winner), []);
});

Deno.test("match.case_sensitive: false matches the prefix in any case of ASCII letters", async () => {
  const match = matcher(
    await routerOf(
      `{ name: any, service: app }`,
      `{ name: admin, match: { path: /Admin, case_sensitive: false }, service: app }`,
      `{ name: api, match: { path: /api }, service: app }`,
      `{ name: admin-x, match: { path: /admin/x }, service: app }`,
    ),
  );
  for (const path of ["/admin", "/ADMIN/a", "/aDmIn;x=1", "/Admin/X"]) {
    assert.equal(match("a.test", path), "admin", path);
  }
  assert.equal(match("a.test", "/adminx"), "any");
  assert.equal(match("a.test", "/admin/x/y"), "admin-x", "a longer prefix still wins");
  assert.equal(match("a.test", "/API"), "any", "case_sensitive is per route");
  assert.equal(match("a.test", "/%C3%80dmin"), "any", "only ASCII letters fold");
});

Deno.test("normalizedTarget: the path routing read, the query as sent, the target when unchanged", () => {
  const cases: [string, string][] = [
    ["/a/b", "/a/b"],
    ["/a/b?q=/../%41", "/a/b?q=/../%41"],
    ["/x/../%61/?q=/../", "/a/?q=/../"],
    ["//a//b", "/a/b"],
    ["*", "*"],
  ];
  for (const [target, want] of cases) {
    const q = target.indexOf("?");
    const path = target === "*" ? "/" : normalizePath(q < 0 ? target : target.slice(0, q));
    assert.equal(normalizedTarget(target, path), want, target);
  }
  // Escapes upper-cased: a path of the same length that still differs.
  assert.equal(normalizedTarget("/a%5b?q", normalizePath("/a%5b")), "/a%5B?q");
});
