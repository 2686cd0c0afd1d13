import assert from "node:assert/strict";
import { httpUpstream } from "../../testing/servers.ts";
import { yaml } from "../../testing/proxy.ts";
import { curl } from "../compress/test_helpers.ts";
import { middlewareProxy, PROTOCOLS, request } from "./test_helpers.ts";

const SECURE = yaml`
  secure:
    headers:
      hsts: { max_age: 63072000, include_subdomains: true, preload: true }
      content_type_nosniff: true
      frame_options: DENY
      referrer_policy: strict-origin-when-cross-origin
      content_security_policy: "default-src 'self'"
      permissions_policy: "camera=(), microphone=()"
      request: { set: { x-tenant: blue }, remove: [x-debug] }
      response: { set: { x-served-by: gatehouse }, remove: [server] }
  office: { ip_allow: [10.0.0.0/8] }
`;

for (const version of PROTOCOLS) {
  Deno.test(`security headers on every answer over HTTP/${version}; HSTS over HTTPS only`, async () => {
    await using up = httpUpstream((req) =>
      new Response(`tenant=${req.headers.get("x-tenant")} debug=${req.headers.get("x-debug")}`, {
        headers: { "x-frame-options": "ALLOWALL", server: "upstream/1.0" },
      })
    );
    await using gw = await middlewareProxy(up.url, {
      middlewares: SECURE,
      route: "middlewares: [secure]",
    });
    const res = await request(gw, version, "/", { headers: { "x-debug": "1" } });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "tenant=blue debug=null");
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal(res.headers.get("x-frame-options"), "DENY");
    assert.equal(res.headers.get("referrer-policy"), "strict-origin-when-cross-origin");
    assert.equal(res.headers.get("content-security-policy"), "default-src 'self'");
    assert.equal(res.headers.get("permissions-policy"), "camera=(), microphone=()");
    assert.equal(res.headers.get("x-served-by"), "gatehouse");
    assert.equal(res.headers.get("server"), null);
    assert.equal(
      res.headers.get("strict-transport-security"),
      version === "2" ? "max-age=63072000; includeSubDomains; preload" : null,
    );
  });
}

Deno.test("security headers also go on Gatehouse's own answers (a later middleware's 403)", async () => {
  await using up = httpUpstream();
  await using gw = await middlewareProxy(up.url, {
    middlewares: SECURE,
    route: "middlewares: [secure, office]",
  });
  const res = await request(gw, "2", "/");
  assert.equal(res.status, 403);
  await res.body?.cancel();
  assert.equal(res.headers.get("x-frame-options"), "DENY");
  assert.equal(
    res.headers.get("strict-transport-security"),
    "max-age=63072000; includeSubDomains; preload",
  );
});

const CORS = yaml`
  cors:
    headers:
      cors:
        allow_origins: [https://app.example.com, "https://*.example.org"]
        allow_methods: [GET, PUT]
        allow_headers: [content-type, x-token]
        expose_headers: [x-total]
        allow_credentials: true
        max_age: 10m
`;

for (const version of PROTOCOLS) {
  Deno.test(`CORS preflights are answered here and never reach the upstream (HTTP/${version})`, async () => {
    await using up = httpUpstream();
    await using gw = await middlewareProxy(up.url, {
      middlewares: CORS,
      route: "middlewares: [cors]",
    });
    const url = version === "1.1" ? gw.url("/api") : gw.url("/api", "websecure");
    const preflight = (origin: string) =>
      curl(
        url,
        "-X",
        "OPTIONS",
        version === "1.1" ? "--http1.1" : "--http2",
        "--cacert",
        gw.certs.caCertPath,
        "-H",
        `Origin: ${origin}`,
        "-H",
        "Access-Control-Request-Method: PUT",
        "-H",
        "Access-Control-Request-Headers: content-type",
      );
    const ok = await preflight("https://app.example.com");
    assert.equal(ok.status, 204);
    assert.equal(ok.headers.get("access-control-allow-origin"), "https://app.example.com");
    assert.equal(ok.headers.get("access-control-allow-methods"), "GET, PUT");
    assert.equal(ok.headers.get("access-control-allow-headers"), "content-type, x-token");
    assert.equal(ok.headers.get("access-control-allow-credentials"), "true");
    assert.equal(ok.headers.get("access-control-max-age"), "600");
    assert.match(ok.headers.get("vary")!, /^Origin, /);
    const pattern = await preflight("https://shop.example.org");
    assert.equal(pattern.status, 204);
    for (const refused of ["https://a.b.example.org", "https://example.org", "https://evil.com"]) {
      const res = await preflight(refused);
      assert.equal(res.status, 403, refused);
      assert.equal(res.headers.get("access-control-allow-origin"), undefined);
    }
    assert.equal(up.requests.length, 0);
    const reasons = gw.outcomes.map((o) => [o.middleware, o.middlewareReason]);
    assert.deepEqual(reasons.slice(0, 2), [["cors", null], ["cors", null]]);
    assert.deepEqual(reasons.slice(2), Array(3).fill(["cors", "cors_origin"]));
  });
}

Deno.test("CORS on actual requests: allowed origins echoed, Vary: Origin merged once", async () => {
  await using up = httpUpstream(() =>
    new Response("data", { headers: { vary: "Accept-Encoding", "x-total": "3" } })
  );
  await using gw = await middlewareProxy(up.url, {
    middlewares: CORS,
    route: "middlewares: [cors]",
  });
  const allowed = await fetch(gw.url("/"), { headers: { origin: "https://app.example.com" } });
  assert.equal(await allowed.text(), "data");
  assert.equal(allowed.headers.get("access-control-allow-origin"), "https://app.example.com");
  assert.equal(allowed.headers.get("access-control-expose-headers"), "x-total");
  assert.equal(allowed.headers.get("vary"), "Accept-Encoding, Origin");
  const other = await fetch(gw.url("/"), { headers: { origin: "https://evil.com" } });
  assert.equal(await other.text(), "data");
  assert.equal(other.headers.get("access-control-allow-origin"), null);
  assert.equal(other.headers.get("vary"), "Accept-Encoding, Origin");
  const none = await fetch(gw.url("/"));
  await none.body?.cancel();
  assert.equal(none.headers.get("vary"), "Accept-Encoding, Origin");
  assert.equal(up.requests.length, 3);
});

Deno.test("CORS for any origin without credentials answers * and needs no Vary", async () => {
  await using up = httpUpstream();
  await using gw = await middlewareProxy(up.url, {
    middlewares: "open: { headers: { cors: {} } }",
    route: "middlewares: [open]",
  });
  const res = await fetch(gw.url("/"), { headers: { origin: "https://x.test" } });
  await res.body?.cancel();
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  assert.equal(res.headers.get("vary"), null);
});
