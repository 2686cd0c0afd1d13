import assert from "node:assert/strict";
import { errorsOf, MINIMAL } from "../../config/test_helpers.ts";
import { httpUpstream, waitFor } from "../../testing/servers.ts";
import { yaml } from "../../testing/proxy.ts";
import { middlewareProxy, PROTOCOLS, request } from "./test_helpers.ts";

const REWRITES = yaml`
  v2: { rewrite: { regex: "^/v1/(.*)$", replacement: "/v2/$1" } }
  spa: { rewrite: { path: /index.html } }
  api: { rewrite: { add_prefix: /api } }
  unversioned: { rewrite: { strip_regex: "/v[0-9]+" } }
`;

for (const version of PROTOCOLS) {
  Deno.test(`rewrite: the upstream sees the new path, the log both (HTTP/${version})`, async () => {
    await using up = httpUpstream((_req, seen) => new Response(seen.target));
    await using gw = await middlewareProxy(up.url, {
      middlewares: REWRITES,
      route: "middlewares: [v2]",
    });
    const res = await request(gw, version, "/v1/users?page=2");
    assert.equal(await res.text(), "/v2/users?page=2");
    const other = await request(gw, version, "/health");
    assert.equal(await other.text(), "/health");
    await waitFor(() => gw.outcomes.length === 2, "two access records");
    assert.equal(gw.outcomes[0].target, "/v1/users?page=2");
    assert.equal(gw.outcomes[0].upstreamTarget, "/v2/users?page=2");
  });
}

Deno.test("rewrite forms: a whole path, a prefix added, a regex prefix stripped, after strip_prefix", async () => {
  await using up = httpUpstream((_req, seen) => new Response(seen.target));
  const seen = async (mw: string, path: string, route = "") => {
    await using gw = await middlewareProxy(up.url, {
      middlewares: REWRITES,
      route: `middlewares: [${mw}]${route}`,
    });
    return await (await fetch(gw.url(path))).text();
  };
  assert.equal(await seen("spa", "/app/settings?tab=1"), "/index.html?tab=1");
  assert.equal(await seen("api", "/users"), "/api/users");
  assert.equal(await seen("unversioned", "/v12/users"), "/users");
  assert.equal(await seen("unversioned", "/users/v1"), "/users/v1");
  assert.equal(
    await seen("api", "/public/users", ", match: { path: /public }, strip_prefix: true"),
    "/api/users",
  );
});

Deno.test("rewrite config errors", async () => {
  const errors = await errorsOf(
    MINIMAL + yaml`
    middlewares:
      two: { rewrite: { path: /a, add_prefix: /b } }
      none: { rewrite: {} }
      rel: { rewrite: { regex: "^/x", replacement: "y" } }
  `,
  );
  assert.deepEqual(errors, [
    `5:19 middlewares.two.rewrite: use one form: path or add_prefix`,
    `6:20 middlewares.none.rewrite: give "path", "regex" and "replacement", "add_prefix" or ` +
    `"strip_regex"`,
    `7:48 middlewares.rel.rewrite.replacement: expected a path like "/v2/$1", found "y"`,
  ]);
});
