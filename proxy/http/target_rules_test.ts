/**
 * Fragments, malformed percent-encoding and ambiguous encoded characters in request paths: the
 * rules alone, and a route's `allow_encoded` end to end (the HTTP/1.1 and HTTP/2 refusals are
 * in framing_h1_test.ts and framing_h2_test.ts).
 */
import assert from "node:assert/strict";
import { connect, startProxy, yaml } from "../testing/proxy.ts";
import { httpUpstream } from "../testing/servers.ts";
import { message, okUpstream } from "../testing/upstream_bytes.ts";
import { readResponse } from "../testing/wire.ts";
import { normalizePath } from "./router.ts";
import { pathProblem, targetProblem } from "./target_rules.ts";

/** GET `target` with Host a.test on a new connection to `port`: the response. */
async function getOn(port: number, target: string) {
  using client = await connect(port);
  await client.send(message([`GET ${target} HTTP/1.1`, "Host: a.test"]));
  return await readResponse(client.reader);
}

Deno.test("targetProblem: no fragment, and every % of the path followed by two hex digits", () => {
  for (const ok of ["/", "/a%2F", "/%e2%82%ac", "/a?q=100%", "/a?%zz", "*", "/a%41?x%"]) {
    assert.equal(targetProblem(ok), null, ok);
  }
  for (const bad of ["/a#", "/a?b#c", "/%", "/a%4", "/a%4?x", "/a%g0", "/a%0g/b", "/%%41"]) {
    assert.equal(targetProblem(bad)?.reason, "bad_target", bad);
  }
});

Deno.test("pathProblem: ambiguous encodings refused unless allowed, %00 always", () => {
  const check = (path: string, allowed: Parameters<typeof pathProblem>[1] = []) =>
    pathProblem(normalizePath(path), allowed)?.reason ?? null;
  assert.equal(check("/a/%7euser/%C3%A9"), null);
  for (const path of ["/a%2fb", "/a%5Cb", "/a%3bb", "/a%25b", "/a%3Fb", "/a%23b", "/a%00"]) {
    assert.equal(check(path), "encoded_path", path);
  }
  assert.equal(check("/a%2fb", ["slash"]), null);
  assert.equal(check("/a%2fb%5c", ["slash"]), "encoded_path");
  assert.equal(check("/a%2fb%5c", ["slash", "backslash"]), null);
  assert.equal(check("/a%00", ["slash", "backslash", "percent", "semicolon"]), "encoded_path");
  for (const path of ["/a/..;/admin", "/a/.;x/b", "/%2e%2e;/admin"]) {
    assert.equal(pathProblem(normalizePath(path), ["semicolon"])?.reason, "bad_target", path);
  }
  assert.equal(check("/a/..b;/c;x/...;"), null);
  for (const path of ["/a\\b", "/x\\..\\admin", "/\\", "/a%2F\\"]) {
    assert.equal(check(path, ["slash"]), "bad_target", path);
  }
  assert.equal(check("/x\\..\\admin", ["backslash"]), null);
  assert.match(pathProblem("/a\\b", [])!.message, /backslash.*allow_encoded may list "backslash"/);
  assert.match(
    pathProblem("/a%2F", [])!.message,
    /encoded slash \(%2F\).*allow_encoded may list "slash"/,
  );
});

Deno.test("a route's allow_encoded lets its encoded characters through as sent, and no other route's", async () => {
  await using up = okUpstream();
  await using gw = await startProxy(yaml`
    entrypoints:
      web: { address: "127.0.0.1:0" }
    routes:
      - { match: { path: /registry }, service: app, allow_encoded: [slash, percent] }
      - { service: app }
    services:
      app: { servers: [${up.url}] }
  `);
  const get = async (target: string) => (await getOn(gw.port("web"), target)).status;
  const seen = up.requests.length;
  assert.equal(await get("/registry/v2/lib%2Fimage%252F"), 200);
  assert.equal(up.requests[seen].target, "/registry/v2/lib%2Fimage%252F");
  assert.equal(await get("/registry/a%5Cb"), 400, "backslash is not allowed there");
  assert.equal(await get("/other/lib%2Fimage"), 400, "nor slash on the other route");
  assert.equal(await get("/registry%2Fx"), 400, "a path that is not under /registry");
  assert.equal(up.requests.length, seen + 1);
  const reasons = gw.outcomes.map((o) => o.reason).filter((r) => r !== null);
  assert.deepEqual(reasons, ["encoded_path", "encoded_path", "encoded_path"]);
});

Deno.test("a raw backslash cannot take a request past the route that protects a path", async () => {
  // The catch-all's upstream is Deno.serve, whose URL parser reads "\\" as "/" (as browsers and
  // Node's URL do): "/x\\..\\admin" is "/admin" to it.
  await using app = httpUpstream((req) => new Response(new URL(req.url).pathname));
  await using admin = httpUpstream(() => new Response("admin route"));
  const config = (allow: string) =>
    yaml`
    entrypoints:
      web: { address: "127.0.0.1:0" }
      raw: { address: "127.0.0.1:0" }
    routes:
      - { entrypoints: [web], match: { path: /admin }, service: admin }
      - { entrypoints: [web], service: app }
      - { entrypoints: [raw], service: app${allow} }
    services:
      app: { servers: [${app.url}] }
      admin: { servers: [${admin.url}] }
  `;
  await using gw = await startProxy(config(", allow_encoded: [backslash]"));
  const get = async (entrypoint: string, target: string) => {
    const res = await getOn(gw.port(entrypoint), target);
    return { status: res.status, body: new TextDecoder().decode(res.body) };
  };
  assert.deepEqual(await get("web", "/admin"), { status: 200, body: "admin route" });
  for (const target of ["/x\\..\\admin", "/x\\..\\admin?a=1", "/\\admin"]) {
    assert.equal((await get("web", target)).status, 400, target);
  }
  assert.deepEqual(await get("web", "/x?path=a\\b"), { status: 200, body: "/x" });
  // A route that allows it gets the path as sent (its upstream here makes it "/admin").
  assert.deepEqual(await get("raw", "/x\\..\\admin"), { status: 200, body: "/admin" });
  assert.equal(app.requests.length, 2);
  const reasons = gw.outcomes.map((o) => o.reason).filter((r) => r !== null);
  assert.deepEqual(reasons, ["bad_target", "bad_target", "bad_target"]);
});

Deno.test("a path that starts with // reaches the upstream as routing read it, not as a host", async () => {
  await using up = okUpstream();
  await using gw = await startProxy(yaml`
    entrypoints:
      web: { address: "127.0.0.1:0" }
    routes:
      - { match: { path: /admin }, service: app, middlewares: [closed] }
      - { service: app }
    middlewares:
      closed: { ip_allow: [192.0.2.1/32] }
    services:
      app: { servers: [${up.url}] }
  `);
  const get = async (target: string) => (await getOn(gw.port("web"), target)).status;
  // What Node's documented `new URL(req.url, base)` makes of the target the upstream received.
  const read = (i: number) => new URL(up.requests[i].target, "http://a.test").pathname;
  assert.equal(await get("/admin"), 403);
  assert.equal(await get("//x/admin?q=//y"), 200);
  assert.equal(up.requests[0].target, "/x/admin?q=//y");
  assert.equal(read(0), "/x/admin");
  assert.equal(await get("///admin"), 403, "routing merges the slashes: the /admin route");
  assert.equal(await get("/x//admin"), 200);
  assert.equal(up.requests[1].target, "/x/admin", "merged as routing merged them");
  assert.equal(read(1), "/x/admin");
});

Deno.test("the upstream gets the path routing matched; forward_path: as_sent keeps the client's", async () => {
  await using up = okUpstream();
  await using gw = await startProxy(yaml`
    entrypoints:
      web: { address: "127.0.0.1:0" }
      raw: { address: "127.0.0.1:0" }
    routes:
      - { entrypoints: [web], match: { path: /admin }, service: app, middlewares: [closed] }
      - { entrypoints: [web], service: app }
      - { entrypoints: [raw], service: app, forward_path: as_sent }
    middlewares:
      closed: { ip_allow: [192.0.2.1/32] }
    services:
      app: { servers: [${up.url}] }
  `);
  const forwarded = async (entrypoint: string, target: string) => {
    const seen = up.requests.length;
    const res = await getOn(gw.port(entrypoint), target);
    assert.equal(res.status, 200, target);
    return up.requests[seen].target;
  };
  // Dot segments (encoded ones too), escapes of letters and runs of "/" are what an upstream
  // may read differently from routing: it gets the path routing read. The query goes as sent.
  assert.equal(await forwarded("web", "/x/%2e%2E/y/./z//%7Ew?q=/../%41"), "/y/z/~w?q=/../%41");
  assert.equal(await forwarded("web", "/x/%5b%c3%a9"), "/x/%5B%C3%A9");
  assert.equal(await forwarded("web", "/public/../x"), "/x");
  // The same paths under /admin reach the admin route (refused here), whatever their spelling.
  for (const target of ["/public/../admin", "/%61dmin", "//admin/./", "/x/%2E%2E/admin?a"]) {
    assert.equal((await getOn(gw.port("web"), target)).status, 403, target);
  }
  // A route that asks for the client's path gets it, but never a leading "//".
  assert.equal(await forwarded("raw", "/x/%2e%2E/y/./z//%7Ew?q=1"), "/x/%2e%2E/y/./z//%7Ew?q=1");
  assert.equal(await forwarded("raw", "//x/admin"), "/x/admin");
  // The access log keeps the client's target and adds the forwarded one when they differ.
  const logged = gw.outcomes.filter((o) => o.status === 200).map((o) => o.upstreamTarget);
  assert.deepEqual(logged, ["/y/z/~w?q=/../%41", "/x/%5B%C3%A9", "/x", null, "/x/admin"]);
});
