import assert from "node:assert/strict";
import { configOf, errorsOf, MINIMAL, yaml } from "./test_helpers.ts";

const SERVICES = yaml`
  services:
    web: { servers: [http://web:80] }
    app: { servers: [http://app:3000] }
`;

Deno.test("route names: explicit, derived from host and path, made unique with #index", async () => {
  const config = await configOf(
    MINIMAL + SERVICES + yaml`
    routes:
      - { name: api, service: app }
      - { match: { host: [App.Localhost, b.localhost], path: /api/ }, service: app }
      - { match: { path: /api }, service: app }
      - { service: web }
      - { match: { host: "*", path: / }, service: web }
      - { match: { host: "*.localhost" }, service: web }
  `,
  );
  assert.deepEqual(config.routes.map((r) => [r.name, r.index]), [
    ["api", 0],
    ["app.localhost/api", 1],
    ["*/api", 2],
    ["*/", 3],
    ["*/#4", 4],
    ["*.localhost/", 5],
  ]);
});

Deno.test("a derived name that collides with an explicit one gets #index", async () => {
  const config = await configOf(
    MINIMAL + SERVICES + yaml`
    routes:
      - { match: { path: /x }, service: app }
      - { name: "x", service: app }
  `,
  );
  assert.deepEqual(config.routes.map((r) => r.name), ["*/x", "x"]);
  const clash = await configOf(
    MINIMAL + SERVICES + yaml`
    routes:
      - { match: { host: a.test }, service: app }
      - { name: a.test, service: app }
  `,
  );
  assert.deepEqual(clash.routes.map((r) => r.name), ["a.test/", "a.test"]);
});

Deno.test("explicit route names must be unique; the error names both positions", async () => {
  assert.deepEqual(
    await errorsOf(
      MINIMAL + SERVICES + yaml`
      routes:
        - name: api
          service: app
        - name: api
          service: web
    `,
    ),
    [`10:11 routes[1].name: duplicate route name "api" (also routes[0] at 8:11)`],
  );
  assert.deepEqual(
    await errorsOf(MINIMAL + "routes: [{ name: -x, service: welcome@internal }]\n"),
    [
      `4:18 routes[0].name: expected a route name (letters, digits, "_", "." and "-", starting with a letter or digit), found "-x"`,
    ],
  );
});

Deno.test("matches are normalised: lowercase hosts, * means any, path, methods, headers", async () => {
  const config = await configOf(
    MINIMAL + SERVICES + yaml`
    routes:
      - service: app
        match:
          host: App.Example.COM
          path: /api//
          methods: get
          headers: { X-Env: prod, Authorization: true, X-Version: 2 }
      - service: app
        match: { host: ["*", a.test], methods: [GET, Post] }
  `,
  );
  const [one, two] = config.routes;
  assert.deepEqual(one.match, {
    hosts: ["app.example.com"],
    pathPrefix: "/api",
    caseSensitive: true,
    methods: ["GET"],
    headers: [
      { name: "x-env", value: "prod" },
      { name: "authorization", value: null },
      { name: "x-version", value: "2" },
    ],
  });
  assert.deepEqual(two.match.hosts, []);
  assert.deepEqual(two.match.methods, ["GET", "POST"]);
});

Deno.test("bad matches are refused with positions", async () => {
  assert.deepEqual(
    await errorsOf(
      MINIMAL + yaml`
      routes:
        - service: welcome@internal
          match: { host: "a b", path: api, methods: ["G T"], headers: { "x y": a, ok: false } }
    `,
    ),
    [
      `6:20 routes[0].match.host: expected a host name like "app.example.com" or "*.example.com", found "a b"`,
      `6:33 routes[0].match.path: expected a path prefix starting with "/", found "api"`,
      `6:48 routes[0].match.methods[0]: expected a method like "GET", found "G T"`,
      `6:67 routes[0].match.headers["x y"]: expected a header name like "x-request-id", found "x y"`,
      `6:81 routes[0].match.headers.ok: expected a header value or true, found false`,
    ],
  );
});

Deno.test("routes must name a known service, pointing at the value", async () => {
  assert.deepEqual(await errorsOf(MINIMAL + "routes:\n  - service: api\n"), [
    `5:14 routes[0].service: unknown service "api" (no services are defined)`,
  ]);
  assert.deepEqual(await errorsOf(MINIMAL + SERVICES + "routes:\n  - service: welcome@internl\n"), [
    `8:14 routes[0].service: unknown service "welcome@internl" (known: web, app)`,
  ]);
  assert.deepEqual(await errorsOf(MINIMAL + "routes:\n  - match: { path: / }\n"), [
    `5:5 routes[0]: missing required key "service"`,
  ]);
});

Deno.test("a service that is invalid is not also reported as unknown", async () => {
  assert.deepEqual(
    await errorsOf(MINIMAL + "services:\n  app: { servers: [] }\nroutes:\n  - service: app\n"),
    ["5:19 services.app.servers: list at least one server"],
  );
});

Deno.test("routes may only list known, non-redirecting entrypoints", async () => {
  const base = yaml`
    entrypoints:
      web: { address: ":8080" }
      admin: { address: "127.0.0.1:8081" }
  `;
  const config = await configOf(
    base + "routes: [{ entrypoints: [admin], service: welcome@internal }]\n",
  );
  assert.deepEqual(config.routes[0].entrypoints, ["admin"]);
  assert.deepEqual(
    await errorsOf(base + "routes: [{ entrypoints: [admin, nope], service: welcome@internal }]\n"),
    [`4:33 routes[0].entrypoints[1]: unknown entrypoint "nope" (known: web, admin)`],
  );
});

Deno.test("strip_prefix needs a path other than /", async () => {
  const config = await configOf(
    MINIMAL + yaml`
    routes: [{ match: { path: /api }, strip_prefix: true, service: welcome@internal }]
  `,
  );
  assert.equal(config.routes[0].stripPrefix, true);
  assert.deepEqual(
    await errorsOf(MINIMAL + "routes: [{ strip_prefix: true, service: welcome@internal }]\n"),
    [`4:26 routes[0].strip_prefix: "strip_prefix" needs a "match.path" other than "/"`],
  );
});

Deno.test("forward_path: normalized by default, as_sent on request, never with strip_prefix", async () => {
  const config = await configOf(
    MINIMAL + yaml`
    routes:
      - { match: { path: /a }, service: welcome@internal }
      - { match: { path: /b }, forward_path: as_sent, service: welcome@internal }
  `,
  );
  assert.deepEqual(config.routes.map((r) => r.forwardPath), ["normalized", "as_sent"]);
  const both = "routes: [{ match: { path: /a }, strip_prefix: true, forward_path: as_sent, " +
    "service: welcome@internal }]\n";
  assert.deepEqual(await errorsOf(MINIMAL + both), [
    `4:67 routes[0].forward_path: "forward_path: as_sent" cannot be combined with ` +
    `"strip_prefix": the prefix is matched, and cut, on the normalized path (remove one of the two)`,
  ]);
});

Deno.test('matching on a header named with "_" needs header_underscores: pass', async () => {
  const routes = "routes: [{ match: { headers: { x_team: a } }, service: welcome@internal }]\n";
  assert.deepEqual(await errorsOf(MINIMAL + routes), [
    `4:40 routes[0].match.headers.x_team: header "x_team" never reaches routing: ` +
    `forwarding.header_underscores is "drop" (set it to "pass" to match on it)`,
  ]);
  assert.deepEqual(
    await errorsOf(MINIMAL + "routes: [{ match: { headers: { Host: a } }, service: x }]\n"),
    [
      `4:38 routes[0].match.headers.host: match the host with "match.host"`,
      `4:54 routes[0].service: unknown service "x" (no services are defined)`,
    ],
  );
  const config = await configOf(MINIMAL + routes + "forwarding: { header_underscores: pass }\n");
  assert.deepEqual(config.routes[0].match.headers, [{ name: "x_team", value: "a" }]);
});

Deno.test("request_headers cannot change Host: the service's host setting does", async () => {
  const route = (ops: string) =>
    MINIMAL + `routes: [{ service: welcome@internal, request_headers: ${ops} }]\n`;
  const message = `Cannot change "host" here: set the service's "host" (preserve, upstream or ` +
    `a fixed value) instead`;
  assert.deepEqual(await errorsOf(route("{ set: { Host: a.test } }")), [
    `4:71 routes[0].request_headers.set.host: ${message}`,
  ]);
  assert.deepEqual(await errorsOf(route("{ remove: [host] }")), [
    `4:67 routes[0].request_headers.remove[0]: ${message}`,
  ]);
  const config = await configOf(
    MINIMAL + "routes: [{ service: welcome@internal, response_headers: { set: { host: x } } }]\n",
  );
  assert.deepEqual(config.routes[0].responseHeaders.set, [["host", "x"]]);
});

Deno.test("header operations: names lowercased, hop-by-hop refused, set and remove exclusive", async () => {
  const config = await configOf(
    MINIMAL + yaml`
    routes:
      - service: welcome@internal
        request_headers: { set: { X-Env: prod, X-N: 1 }, remove: [Cookie] }
        response_headers: { remove: [Server] }
  `,
  );
  assert.deepEqual(config.routes[0].requestHeaders, {
    set: [["x-env", "prod"], ["x-n", "1"]],
    remove: ["cookie"],
  });
  assert.deepEqual(config.routes[0].responseHeaders, { set: [], remove: ["server"] });
  assert.deepEqual(
    await errorsOf(
      MINIMAL + yaml`
      routes:
        - service: welcome@internal
          response_headers: { set: { Transfer-Encoding: chunked, x-a: "1" }, remove: [X-A] }
    `,
    ),
    [
      `6:32 routes[0].response_headers.set.Transfer-Encoding: Cannot set "transfer-encoding": Gatehouse manages this header for each connection`,
      `6:81 routes[0].response_headers.remove[0]: header "x-a" is both set and removed`,
    ],
  );
});

Deno.test("services: URLs normalised, weights, defaults", async () => {
  const config = await configOf(
    MINIMAL + yaml`
    services:
      app:
        servers:
          - HTTP://App:3000/
          - { url: "https://api.internal", weight: 5 }
  `,
  );
  const app = config.services.app;
  assert.deepEqual(app.servers, [
    { url: "http://app:3000", scheme: "http", hostname: "app", port: 3000, path: null, weight: 1 },
    {
      url: "https://api.internal:443",
      scheme: "https",
      hostname: "api.internal",
      port: 443,
      path: null,
      weight: 5,
    },
  ]);
  assert.deepEqual({ ...app, servers: undefined, pos: undefined }, {
    name: "app",
    protocol: "http",
    servers: undefined,
    balancing: "round_robin",
    healthCheck: null,
    passiveHealth: { maxFailures: 5, window: 10_000, ejectFor: 30_000 },
    tls: { caPem: null, caFile: null, serverName: null, insecureSkipVerify: false },
    host: "preserve",
    retries: 2,
    keepAlive: { maxIdlePerServer: 256, idleTimeout: 30_000 },
    httpProtocol: "http/1.1",
    pos: undefined,
  });
  assert.deepEqual(app.pos, { file: "/nonexistent/config/test.yaml", line: 5, col: 3 });
});

Deno.test("services: every setting", async () => {
  const config = await configOf(
    MINIMAL + yaml`
    services:
      app:
        servers: [https://a:8443]
        balancing: ip_hash
        health_check: { path: /healthz?full=1, interval: 5s, timeout: 1s, healthy_threshold: 1, unhealthy_threshold: 4, expect_status: 204 }
        passive_health: false
        tls: { server_name: API.internal, insecure_skip_verify: true }
        host: upstream
        retries: 0
        keep_alive: { max_idle_per_server: 0, idle_timeout: 1m }
  `,
  );
  const app = config.services.app;
  assert.equal(app.balancing, "ip_hash");
  assert.deepEqual(app.healthCheck, {
    path: "/healthz?full=1",
    grpcService: null,
    interval: 5000,
    timeout: 1000,
    healthyThreshold: 1,
    unhealthyThreshold: 4,
    expectStatus: [204, 204],
    send: null,
  });
  assert.equal(app.passiveHealth, null);
  assert.deepEqual(app.tls, {
    caPem: null,
    caFile: null,
    serverName: "api.internal",
    insecureSkipVerify: true,
  });
  assert.deepEqual([app.host, app.retries], ["upstream", 0]);
  assert.deepEqual(app.keepAlive, { maxIdlePerServer: 0, idleTimeout: 60_000 });
  const health = await configOf(
    MINIMAL + "services: { a: { servers: [http://a], health_check: { path: / } } }\n",
  );
  assert.deepEqual(health.services.a.healthCheck?.expectStatus, [200, 399]);
  assert.deepEqual([
    health.services.a.healthCheck?.interval,
    health.services.a.healthCheck?.timeout,
  ], [10_000, 2000]);
});

Deno.test("services: duplicate servers, timeouts, tls without https, reserved names", async () => {
  assert.deepEqual(
    await errorsOf(
      MINIMAL + yaml`
      services:
        app:
          servers: [http://a:80, http://b, HTTP://A]
          health_check: { path: /h, interval: 2s, timeout: 2s }
          tls: { insecure_skip_verify: true }
          host: "a b"
        welcome@internal:
          servers: [http://c]
    `,
    ),
    [
      `6:38 services.app.servers[2]: duplicate server "http://a:80" (also servers[0])`,
      `7:54 services.app.health_check.timeout: timeout (2s) must be shorter than interval (2s)`,
      `8:5 services.app.tls: "tls" is set but no server of this service uses https`,
      `9:11 services.app.host: expected "preserve", "upstream" or a host like "app.internal:8080", found "a b"`,
      `10:3 services["welcome@internal"]: service names ending in "@internal" are reserved for built-in services`,
    ],
  );
});
