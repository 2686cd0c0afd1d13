import assert from "node:assert/strict";
import {
  connect,
  proxyFor,
  startProxy,
  type TestProxy,
  tlsClient,
  yaml,
} from "../testing/proxy.ts";
import { httpUpstream, sizeUpstream } from "../testing/servers.ts";
import { readResponse } from "../testing/wire.ts";

/** An upstream that answers with the route name (set by each route) and the target it got. */
function echoUpstream() {
  return httpUpstream((req, seen) =>
    Response.json({ route: req.headers.get("x-route"), target: seen.target })
  );
}

/** `name` as a route that tags its requests with `x-route: name`. */
function tagged(name: string, rest: string): string {
  return `{ name: ${name}, service: app, request_headers: { set: { x-route: ${name} } }, ${rest} }`;
}

async function routingProxy(url: string): Promise<TestProxy> {
  const routes = [
    tagged("api", "match: { host: app.test, path: /api }, allow_encoded: [slash]"),
    tagged("api-v2", "match: { host: app.test, path: /api/v2 }"),
    tagged("api-post", "match: { host: app.test, path: /api, methods: [POST] }"),
    tagged("api-beta", `match: { host: app.test, path: /api, headers: { x-beta: "1" } }`),
    tagged("wild", `match: { host: "*.app.test" }`),
    tagged("wild-deep", `match: { host: "*.x.app.test" }`),
    tagged("www", "match: { host: www.app.test }"),
    tagged("tie-first", "match: { host: tie.test, path: /t }"),
    tagged("tie-second", "match: { host: tie.test, path: /t }"),
    tagged(
      "strip",
      "match: { host: app.test, path: /strip }, strip_prefix: true, allow_encoded: slash",
    ),
    tagged("any-host", "match: { path: /anyhost }"),
    tagged(
      "admin",
      "match: { host: app.test, path: /Admin, case_sensitive: false }, strip_prefix: true",
    ),
  ];
  return await startProxy(yaml`
    entrypoints:
      web: { address: "127.0.0.1:0" }
    routes:
      ${routes.map((r) => `- ${r}`).join("\n      ")}
    services:
      app: { servers: ["${url}"] }
  `);
}

/** Sends one request with any Host on a new connection. */
async function send(
  gw: TestProxy,
  method: string,
  host: string,
  target: string,
  extra = "",
  body = "",
) {
  using c = await connect(gw.port());
  await c.send(
    `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\n${extra}Connection: close\r\n\r\n${body}`,
  );
  return await readResponse(c.reader, method);
}

/** The route that served a GET (or null for a proxy 404) and the target the upstream got. */
async function routeOf(gw: TestProxy, host: string, target: string, method = "GET", extra = "") {
  const res = await send(gw, method, host, target, extra);
  if (res.status === 404) return null;
  assert.equal(res.status, 200, res.text);
  return JSON.parse(res.text) as { route: string; target: string };
}

Deno.test("routes by host, path prefix on segment boundaries, method and header", async () => {
  await using up = echoUpstream();
  await using gw = await routingProxy(up.url);
  const route = async (host: string, target: string, method = "GET", extra = "") =>
    (await routeOf(gw, host, target, method, extra))?.route ?? null;
  assert.equal(await route("app.test", "/api"), "api");
  assert.equal(await route("app.test", "/api/"), "api");
  assert.equal(await route("app.test", "/api/x?y=1"), "api");
  assert.equal(await route("app.test", "/api;jsessionid=1"), "api");
  assert.equal(await route("app.test", "//api//x"), "api");
  assert.equal(await route("app.test", "/apix"), null);
  assert.equal(await route("app.test", "/ap"), null);
  assert.equal(await route("APP.test:8080", "/api"), "api");
  assert.equal(await route("app.test", "/api/v2"), "api-v2");
  assert.equal(await route("app.test", "/api/v2/users"), "api-v2");
  assert.equal(await route("app.test", "/api/v2x"), "api");
  assert.equal(await route("app.test", "/api", "POST", "Content-Length: 0\r\n"), "api-post");
  assert.equal(await route("app.test", "/api", "GET", "X-Beta: 1\r\n"), "api-beta");
  assert.equal(await route("app.test", "/api", "GET", "X-Beta: 2\r\n"), "api");
  // A method condition is more specific than a header condition.
  assert.equal(
    await route("app.test", "/api", "POST", "X-Beta: 1\r\nContent-Length: 0\r\n"),
    "api-post",
  );
  // Dot segments and encoded unreserved characters cannot dodge a route.
  assert.equal(await route("app.test", "/x/../api/v2"), "api-v2");
  assert.equal(await route("app.test", "/%61pi"), "api");
});

Deno.test("exact hosts beat wildcards, a wildcard covers one label, ties go by order", async () => {
  await using up = echoUpstream();
  await using gw = await routingProxy(up.url);
  const route = async (host: string, target = "/") => (await routeOf(gw, host, target))?.route;
  assert.equal(await route("www.app.test"), "www");
  assert.equal(await route("a.app.test"), "wild");
  assert.equal(await route("a.b.app.test"), undefined);
  assert.equal(await route("a.x.app.test"), "wild-deep");
  assert.equal(await route("x.app.test"), "wild");
  assert.equal(await route("tie.test", "/t/1"), "tie-first");
  // Routes for any host come after every route for the host, whatever their path length.
  assert.equal(await route("unknown.test", "/anyhost/a"), "any-host");
  assert.equal(await route("app.test", "/anyhost"), "any-host");
});

Deno.test("strip_prefix removes the prefix and keeps the rest of the path and the query", async () => {
  await using up = echoUpstream();
  await using gw = await routingProxy(up.url);
  const target = async (t: string) => (await routeOf(gw, "app.test", t))?.target;
  assert.equal(await target("/strip/a/b?q=1&r=%20x"), "/a/b?q=1&r=%20x");
  assert.equal(await target("/strip"), "/");
  assert.equal(await target("/strip/"), "/");
  assert.equal(await target("/strip?q=1"), "/?q=1");
  assert.equal(await target("/strip/a%2Fb"), "/a%2Fb");
  // Without strip_prefix the target goes up exactly as received.
  assert.equal((await routeOf(gw, "app.test", "/api/a%2Fb?x=%41"))?.target, "/api/a%2Fb?x=%41");
});

Deno.test("no matching route: the proxy answers 404 itself and no upstream is asked", async () => {
  await using up = echoUpstream();
  await using gw = await routingProxy(up.url);
  const res = await send(gw, "GET", "nope.test", "/api");
  assert.equal(res.status, 404);
  assert.match(res.text, /no Gatehouse route matches/);
  assert.equal((await send(gw, "GET", "app.test", "/apix")).status, 404);
  assert.equal(up.requests.length, 0);
});

Deno.test("not_found status and body are configurable", async () => {
  await using up = echoUpstream();
  await using gw = await startProxy(yaml`
    entrypoints: { web: { address: "127.0.0.1:0" } }
    routes: [{ match: { host: app.test }, service: app }]
    services: { app: { servers: ["${up.url}"] } }
    not_found: { status: 421, body: "nothing here\\n" }
  `);
  const res = await send(gw, "GET", "other.test", "/");
  assert.equal(res.status, 421);
  assert.equal(res.text, "nothing here\n");
  assert.equal(up.requests.length, 0);
});

Deno.test("a request head over limits.max_header gets 431 and never reaches the upstream", async () => {
  await using up = echoUpstream();
  await using gw = await proxyFor([up.url], { config: "limits: { max_header: 1KiB }\n" });
  const small = await send(gw, "GET", "a.test", "/", `X-Pad: ${"a".repeat(800)}\r\n`);
  assert.equal(small.status, 200);
  const large = await send(gw, "GET", "a.test", "/", `X-Pad: ${"a".repeat(1100)}\r\n`);
  assert.equal(large.status, 431);
  assert.equal(up.requests.length, 1);
});

Deno.test("a body over max_body gets 413, by Content-Length or while it streams", async () => {
  await using up = sizeUpstream();
  await using gw = await proxyFor([up.url], { route: "max_body: 100B" });
  const post = (body: string, chunked = false) =>
    chunked
      ? send(gw, "POST", "a.test", "/", "Transfer-Encoding: chunked\r\n", chunk(body))
      : send(gw, "POST", "a.test", "/", `Content-Length: ${body.length}\r\n`, body);
  const chunk = (body: string) => `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
  assert.equal((await post("x".repeat(100))).text, "got 100");
  assert.equal((await post("x".repeat(101))).status, 413);
  assert.equal(up.requests.length, 1);
  assert.equal((await post("x".repeat(100), true)).text, "got 100");
  assert.equal((await post("x".repeat(101), true)).status, 413);
  // h2 without a length: the limit applies while the stream flows.
  using client = await tlsClient("2");
  const h2 = async (size: number) => {
    const body = new Blob(["x".repeat(size)]).stream();
    const res = await fetch(gw.url("/", "websecure"), { client, method: "POST", body });
    return [res.status, await res.text()];
  };
  assert.deepEqual(await h2(100), [200, "got 100"]);
  assert.equal((await h2(101))[0], 413);
});

Deno.test("a route with case_sensitive: false takes its prefix in any case; strip_prefix cuts as much", async () => {
  await using up = echoUpstream();
  await using gw = await routingProxy(up.url);
  for (const target of ["/admin", "/ADMIN/Users?q=A", "/aDmIn;x=1"]) {
    assert.equal((await routeOf(gw, "app.test", target))?.route, "admin", target);
  }
  assert.deepEqual(await routeOf(gw, "app.test", "/ADMIN/Users?q=A"), {
    route: "admin",
    target: "/Users?q=A",
  });
  assert.equal(await routeOf(gw, "app.test", "/API"), null, "api stays case-sensitive");
});
