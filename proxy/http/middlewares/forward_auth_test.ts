import assert from "node:assert/strict";
import { formatConfigError, loadConfigText } from "../../config/mod.ts";
import { ALICE_COOKIE, authService } from "../../testing/auth_service.ts";
import { connect, startProxy, type TestProxy, yaml } from "../../testing/proxy.ts";
import { readResponse } from "../../testing/wire.ts";
import { closedPort, httpUpstream, waitFor } from "../../testing/servers.ts";
import { PROTOCOLS, request } from "./test_helpers.ts";

/** A proxy whose one route runs `sso: { forward_auth: { service: auth, <settings> } }`. */
function ssoProxy(app: string, auth: string, settings: string): Promise<TestProxy> {
  return startProxy(yaml`
    entrypoints:
      web: { address: "127.0.0.1:0" }
      websecure:
        address: "127.0.0.1:0"
        tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
    middlewares:
      sso: { forward_auth: { service: auth, ${settings} } }
    routes: [{ service: app, middlewares: [sso] }]
    services:
      app: { servers: [${app}] }
      auth: { servers: [${auth}] }
  `);
}

const OAUTH2 = "path: /oauth2/auth, response_headers: [X-Auth-Request-User, X-Auth-Request-Email]";

for (const version of PROTOCOLS) {
  Deno.test(`forward_auth against an oauth2-proxy-style service (HTTP/${version})`, async () => {
    await using up = httpUpstream();
    await using auth = await authService();
    await using gw = await ssoProxy(up.url, auth.url, OAUTH2);
    const scheme = version === "1.1" ? "http" : "https";
    const origin = new URL(gw.url("/", version === "1.1" ? "web" : "websecure")).host;

    // A browser without a session goes to the login page, with where it wanted to go.
    const browser = await request(gw, version, "/app/page?x=1", {
      headers: { accept: "text/html" },
      redirect: "manual",
    });
    assert.equal(browser.status, 302);
    assert.equal(
      browser.headers.get("location"),
      `/oauth2/start?rd=${encodeURIComponent(`${scheme}://${origin}/app/page?x=1`)}`,
    );
    await browser.body?.cancel();
    // Anything else without a session: the auth service's 401, as it is.
    const api = await request(gw, version, "/api");
    assert.equal(api.status, 401);
    assert.equal(api.headers.get("www-authenticate"), `Bearer realm="oauth2-proxy"`);
    assert.equal(await api.text(), "Unauthorized\n");
    assert.equal(up.requests.length, 0);

    // With the session: through, the user's fields copied, the client's own replaced.
    const ok = await request(gw, version, "/app", {
      method: "POST",
      body: "payload",
      headers: {
        cookie: `theme=dark; ${ALICE_COOKIE}`,
        "x-auth-request-user": "root",
        "x-custom": "kept",
        "x-real-ip": "192.0.2.66",
        "true-client-ip": "192.0.2.66",
        "x-original-url": `${scheme}://${origin}/public`,
        "x-original-method": "GET",
      },
    });
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), "ok");
    assert.equal(up.requests.length, 1);
    const seen = up.requests[0].headers;
    assert.equal(seen.get("x-auth-request-user"), "alice");
    assert.equal(seen.get("x-auth-request-email"), "alice@example.com");
    assert.equal(seen.get("x-custom"), "kept");

    const asked = new Headers(auth.requests.at(-1)!.headers);
    assert.equal(auth.requests.at(-1)!.path, "/oauth2/auth");
    assert.equal(asked.get("x-forwarded-method"), "POST");
    assert.equal(asked.get("x-forwarded-proto"), scheme);
    assert.equal(asked.get("x-forwarded-host"), origin);
    assert.equal(asked.get("x-forwarded-uri"), "/app");
    assert.equal(asked.get("x-forwarded-for"), "127.0.0.1");
    // oauth2-proxy takes the client's address from X-Real-IP by default: never the client's own.
    assert.equal(asked.get("x-real-ip"), "127.0.0.1");
    assert.equal(asked.get("true-client-ip"), null);
    // Authelia's auth-request and legacy verify endpoints decide on these, not X-Forwarded-*.
    assert.equal(asked.get("x-original-url"), `${scheme}://${origin}/app`);
    assert.equal(asked.get("x-original-method"), "POST");
    assert.equal(asked.get("cookie"), `theme=dark; ${ALICE_COOKIE}`);
    assert.equal(asked.get("content-length"), null, "the subrequest has no body");

    await waitFor(() => gw.outcomes.length === 3, "three access records");
    assert.deepEqual(gw.outcomes.map((o) => [o.status, o.middleware, o.middlewareReason]), [
      [302, "sso", "denied"],
      [401, "sso", "denied"],
      [200, null, null],
    ]);
  });
}

Deno.test("forward_auth sends only the listed request fields when told", async () => {
  await using up = httpUpstream();
  await using auth = await authService();
  await using gw = await ssoProxy(up.url, auth.url, `${OAUTH2}, request_headers: [cookie]`);
  const res = await fetch(gw.url("/"), {
    headers: { cookie: ALICE_COOKIE, "x-secret": "for the app only" },
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const asked = new Headers(auth.requests[0].headers);
  assert.equal(asked.get("cookie"), ALICE_COOKIE);
  assert.equal(asked.get("x-secret"), null);
  assert.equal(up.requests[0].headers.get("x-secret"), "for the app only");
});

Deno.test("forward_auth fails closed: auth service down is 502, too slow is 504", async () => {
  await using up = httpUpstream();
  await using down = await ssoProxy(up.url, `"http://127.0.0.1:${closedPort()}"`, OAUTH2);
  for (const version of PROTOCOLS) {
    const res = await request(down, version, "/", { headers: { cookie: ALICE_COOKIE } });
    assert.equal(res.status, 502);
    await res.body?.cancel();
  }
  await waitFor(() => down.outcomes.length === 2, "two access records");
  assert.equal(down.outcomes[0].middleware, "sso");
  assert.equal(down.outcomes[0].middlewareReason, "auth_failed");
  assert.equal(down.outcomes[0].source, "upstream");
  assert.match(down.outcomes[0].error!, /^Cannot ask the auth service "auth": connect failed/);

  await using slow = await authService(30);
  await using late = await ssoProxy(up.url, slow.url, "path: /slow, timeout: 300ms");
  const res = await fetch(late.url("/"), { headers: { cookie: ALICE_COOKIE } });
  assert.equal(res.status, 504);
  await res.body?.cancel();
  await waitFor(() => late.outcomes.length === 1, "the access record");
  assert.equal(late.outcomes[0].middlewareReason, "auth_timeout");
  assert.equal(late.outcomes[0].error, `the auth service "auth" did not answer within 0.3s`);
  assert.equal(up.requests.length, 0, "no request passed without an answer");
});

Deno.test("forward_auth fails closed: an auth service with no server up is 503", async () => {
  await using up = httpUpstream();
  await using gw = await startProxy(yaml`
    entrypoints: { web: { address: "127.0.0.1:0" } }
    middlewares:
      sso: { forward_auth: { service: auth, path: /oauth2/auth } }
    routes: [{ service: app, middlewares: [sso] }]
    services:
      app: { servers: [${up.url}] }
      auth:
        servers: ["http://127.0.0.1:${closedPort()}"]
        health_check: { path: /ping, interval: 100ms, timeout: 50ms }
  `);
  // The active check takes the one server out of rotation: no attempt is made at all.
  await waitFor(async () => {
    const res = await fetch(gw.url("/"), { headers: { cookie: ALICE_COOKIE } });
    await res.body?.cancel();
    return res.status === 503;
  }, "503 once the auth server is marked down");
  const record = gw.outcomes.at(-1)!;
  assert.deepEqual([record.middleware, record.middlewareReason, record.source], [
    "sso",
    "auth_unavailable",
    "unavailable",
  ]);
  assert.equal(record.error, `no available server in the auth service "auth"`);
  assert.equal(up.requests.length, 0, "no request passed without an answer");
});

Deno.test("forward_auth config errors: unknown service with did-you-mean, a TCP service", async () => {
  const errors = async (service: string) => {
    const loaded = await loadConfigText(
      yaml`
      entrypoints: { web: { address: "127.0.0.1:0" } }
      middlewares:
        sso: { forward_auth: { service: ${service} } }
      routes: [{ service: app, middlewares: [sso] }]
      services:
        app: { servers: ["http://127.0.0.1:1"] }
        authelia: { servers: ["http://127.0.0.1:2"] }
        db: { servers: ["tcp://127.0.0.1:3"] }
    `,
      "/tmp/gatehouse.yaml",
    );
    assert.equal(loaded.ok, false);
    return loaded.ok ? [] : loaded.errors.map(formatConfigError);
  };
  assert.deepEqual(await errors("authelai"), [
    `/tmp/gatehouse.yaml:3:35 middlewares.sso.forward_auth.service: unknown service "authelai" ` +
    `(did you mean "authelia"?) (known: app, authelia, db)`,
  ]);
  const [tcp] = await errors("db");
  assert.match(tcp, /service "db" has tcp:\/\/ servers: an auth service speaks HTTP/);
});

Deno.test("forward_auth asks about the path routing read, not the one the client wrote", async () => {
  await using up = httpUpstream();
  await using auth = await authService();
  await using gw = await ssoProxy(up.url, auth.url, OAUTH2);
  for (
    const [target, uri] of [
      ["/public/../admin/x?q=/../y", "/admin/x?q=/../y"],
      ["//admin/./%78", "/admin/x"],
    ]
  ) {
    using c = await connect(gw.port("web"));
    await c.send(`GET ${target} HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n`);
    assert.equal((await readResponse(c.reader)).status, 401);
    assert.equal(new Headers(auth.requests.at(-1)!.headers).get("x-forwarded-uri"), uri, target);
  }
});

Deno.test("an auth service's X-Forwarded-User reaches the upstream; the client's own never does", async () => {
  // traefik-forward-auth style: the user comes back in X-Forwarded-User. A client that is not a
  // trusted proxy loses its X-Forwarded-* when its request arrives, before the middleware runs.
  await using up = httpUpstream();
  await using auth = httpUpstream(() =>
    new Response(null, { status: 200, headers: { "x-forwarded-user": "alice" } })
  );
  await using gw = await ssoProxy(
    up.url,
    auth.url,
    "path: /auth, response_headers: [X-Forwarded-User]",
  );
  for (const version of PROTOCOLS) {
    const res = await request(gw, version, "/", {
      headers: { "x-forwarded-user": "root", "x-forwarded-prefix": "/evil" },
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  }
  for (const seen of up.requests) {
    assert.equal(seen.headers.get("x-forwarded-user"), "alice");
    assert.equal(seen.headers.get("x-forwarded-prefix"), null);
  }
  assert.equal(up.requests.length, 2);
});
