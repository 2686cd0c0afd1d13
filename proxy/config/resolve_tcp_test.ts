import assert from "node:assert/strict";
import { configOf, errorsOf, withCerts, yaml } from "./test_helpers.ts";

const TCP = yaml`
  entrypoints:
    web: { address: ":8080" }
    db: { address: ":5432", protocol: tcp }
  services:
    app: { servers: [http://app:3000] }
    pg: { servers: [tcp://pg:5432] }
`;

Deno.test("a tcp entrypoint, a tcp service and a tcp route resolve with their defaults", async () => {
  const config = await configOf(
    TCP + yaml`
    tcp_routes:
      - { entrypoints: [db], service: pg }
    timeouts: { connect: 3s }
  `,
  );
  assert.equal(config.entrypoints.db.protocol, "tcp");
  assert.equal(config.entrypoints.db.maxConnections, 0);
  assert.equal(config.entrypoints.db.proxyProtocol, null);
  assert.equal(config.services.pg.protocol, "tcp");
  assert.equal(config.services.app.protocol, "http");
  assert.deepEqual(config.services.pg.servers[0], {
    url: "tcp://pg:5432",
    scheme: "tcp",
    hostname: "pg",
    port: 5432,
    path: null,
    weight: 1,
  });
  const [route] = config.tcpRoutes;
  assert.deepEqual({ ...route, pos: undefined }, {
    name: "db/*",
    index: 0,
    entrypoints: ["db"],
    sni: [],
    passthrough: false,
    service: "pg",
    proxyProtocol: "off",
    timeouts: { idle: 0, connect: 3000 },
    pos: undefined,
  });
});

Deno.test("tcp route keys: sni, passthrough, proxy_protocol, timeouts, names", async () => {
  const config = await configOf(
    TCP + yaml`
    tcp_routes:
      - { entrypoints: [db], service: pg, sni: [A.Test, "*.b.test"], passthrough: true }
      - name: fallback
        entrypoints: [db]
        service: pg
        proxy_protocol: v2
        timeouts: { idle: 5m, connect: 1s }
      - { entrypoints: [db], service: pg, sni: c.test, passthrough: true }
  `,
  );
  assert.deepEqual(
    config.tcpRoutes.map((r) => [r.name, r.sni, r.passthrough, r.proxyProtocol, r.timeouts]),
    [
      ["db/a.test", ["a.test", "*.b.test"], true, "off", { idle: 0, connect: 5000 }],
      ["fallback", [], false, "v2", { idle: 300_000, connect: 1000 }],
      ["db/c.test", ["c.test"], true, "off", { idle: 0, connect: 5000 }],
    ],
  );
});

Deno.test("entrypoint max_connections and proxy_protocol", async () => {
  const config = await configOf(yaml`
    entrypoints:
      db:
        address: ":5432"
        protocol: tcp
        max_connections: 100
        proxy_protocol: { trusted: [10.0.0.0/8, "::1"] }
    services: { pg: { servers: [tcp://pg:5432] } }
    tcp_routes: [{ entrypoints: [db], service: pg }]
  `);
  const db = config.entrypoints.db;
  assert.equal(db.maxConnections, 100);
  assert.deepEqual(db.proxyProtocol?.trusted.map((c) => c.text), ["10.0.0.0/8", "::1"]);
});

Deno.test("services are all tcp:// or all http(s)://, with settings of their kind", async () => {
  assert.deepEqual(
    await errorsOf(yaml`
      entrypoints: { web: { address: ":8080" } }
      services:
        mixed: { servers: [http://a:1, tcp://b:2] }
        db:
          servers: [tcp://db:1]
          host: upstream
          health_check: { path: /healthz }
        web: { servers: [http://w:1], health_check: { interval: 5s } }
        noport: { servers: [tcp://db] }
    `),
    [
      `3:34 services.mixed.servers[1]: server "tcp://b:2" does not match servers[0] "http://a:1": a service's servers are all byte streams (tcp://, unix+tcp://), all datagrams (udp://) or all HTTP (http://, https://, h2c://, unix://)`,
      `6:5 services.db.host: "host" applies to http services only`,
      `7:21 services.db.health_check.path: "path" is for http services: a tcp service's check connects`,
      `8:33 services.web.health_check: "path" is required for http services (only tcp services check with a TCP connect)`,
      `9:23 services.noport.servers[0]: a tcp:// server needs a port, like "tcp://db:5432"`,
    ],
  );
});

Deno.test("routes and tcp_routes each point at their own kind of entrypoint and service", async () => {
  assert.deepEqual(
    await errorsOf(
      TCP + yaml`
      routes:
        - { entrypoints: [db], service: app }
        - { service: pg }
      tcp_routes:
        - { entrypoints: [web], service: pg }
        - { entrypoints: [db], service: app }
        - { entrypoints: [nope], service: pg, sni: x.test }
    `,
    ),
    [
      `8:21 routes[0].entrypoints[0]: entrypoint "db" is a tcp entrypoint: list it in tcp_routes instead`,
      `9:16 routes[1].service: service "pg" has tcp:// servers: use it from tcp_routes`,
      `11:21 tcp_routes[0].entrypoints[0]: entrypoint "web" is an http entrypoint: list tcp entrypoints (or https ones, for passthrough routes with "sni")`,
      `12:35 tcp_routes[1].service: service "app" has http servers: tcp_routes need a service with tcp:// (or unix+tcp://) servers`,
      `13:21 tcp_routes[2].entrypoints[0]: unknown entrypoint "nope" (known: web, db)`,
    ],
  );
});

Deno.test("sni needs tls or passthrough; one default and one route per name on an entrypoint", async () => {
  assert.deepEqual(
    await errorsOf(
      TCP + yaml`
      tcp_routes:
        - { entrypoints: [db], service: pg, sni: a.test }
        - { entrypoints: [db], service: pg, sni: [b.test, "*.c.test"], passthrough: true }
        - { entrypoints: [db], service: pg, sni: "*.c.test", passthrough: true }
        - { entrypoints: [db], service: pg }
        - { entrypoints: [db], service: pg }
    `,
    ),
    [
      `8:21 tcp_routes[0].entrypoints[0]: entrypoint "db" has no "tls", so "sni" needs "passthrough: true" (route TLS by name without terminating it), or add "tls" to the entrypoint`,
      `10:44 tcp_routes[2].sni: "*.c.test" is already routed on entrypoint "db" by tcp_routes[1]`,
      `12:5 tcp_routes[4]: entrypoint "db" already has a default route (tcp_routes[3], without "sni"): give this one "sni"`,
    ],
  );
});

Deno.test("a tcp entrypoint needs a route; http-only keys are refused on it", async () => {
  assert.deepEqual(
    await errorsOf(yaml`
      entrypoints:
        web: { address: ":8080", proxy_protocol: { trusted: [10.0.0.1] } }
        db: { address: ":5432", protocol: tcp, redirect: { to: web } }
    `),
    [
      `2:28 entrypoints.web.proxy_protocol: "proxy_protocol" is supported on tcp entrypoints only`,
      `3:3 entrypoints.db: tcp entrypoint "db" has no tcp_routes: add one that lists it`,
      `3:42 entrypoints.db.redirect: "redirect" is for http entrypoints`,
      `3:58 entrypoints.db.redirect.to: entrypoint "web" has no "tls" (no entrypoint has "tls")`,
    ],
  );
});

Deno.test("route names are unique across routes and tcp_routes", async () => {
  assert.deepEqual(
    await errorsOf(
      TCP + yaml`
      routes: [{ name: main, service: app }]
      tcp_routes:
        - { name: main, entrypoints: [db], service: pg }
    `,
    ),
    [`9:13 tcp_routes[0].name: duplicate route name "main" (also routes[0])`],
  );
});

Deno.test("passthrough on an https entrypoint needs sni; a tcp entrypoint with tls offers no ALPN", async () => {
  await withCerts(async (file) => {
    const base = yaml`
      entrypoints:
        websecure:
          address: ":8443"
          tls: { certificates: [{ cert: ../certs/localhost.crt, key: ../certs/localhost.key }] }
        tlsdb:
          address: ":6380"
          protocol: tcp
          tls: { certificates: [{ cert: ../certs/localhost.crt, key: ../certs/localhost.key }] }
      services: { pg: { servers: [tcp://pg:5432] } }
    `;
    const config = await configOf(
      base + yaml`
      tcp_routes:
        - { entrypoints: [websecure], service: pg, sni: pg.localhost, passthrough: true }
        - { entrypoints: [tlsdb], service: pg }
    `,
      file,
    );
    assert.deepEqual(config.entrypoints.tlsdb.tls?.alpn, []);
    assert.deepEqual(config.entrypoints.websecure.tls?.alpn, ["h2", "http/1.1"]);
    assert.deepEqual(
      await errorsOf(
        base + yaml`
        tcp_routes:
          - { entrypoints: [websecure], service: pg, passthrough: true }
          - { entrypoints: [websecure], service: pg, sni: x.localhost }
          - { entrypoints: [tlsdb], service: pg }
      `,
        file,
      ),
      [
        `11:21 tcp_routes[0].entrypoints[0]: a passthrough route on https entrypoint "websecure" needs "sni" (without it, every connection would bypass HTTPS)`,
        `12:21 tcp_routes[1].entrypoints[0]: entrypoint "websecure" serves HTTPS: only passthrough routes (with "sni") can share it`,
      ],
    );
  });
});

Deno.test("config/tcp.yaml (the plain TCP example) loads, with its addresses from the environment", async () => {
  const file = new URL("../../config/tcp.yaml", import.meta.url).pathname;
  const text = await Deno.readTextFile(file);
  const config = await configOf(text, file);
  assert.deepEqual(config.entrypoints.tcp.address, { hostname: "0.0.0.0", port: 9000 });
  assert.equal(config.services.upstream.servers[0].url, "tcp://127.0.0.1:9001");
  assert.deepEqual(config.tcpRoutes.map((r) => r.name), ["tcp"]);
});

Deno.test("unix sockets join their kind: unix:// with http(s)://, unix+tcp:// with tcp://", async () => {
  const config = await configOf(yaml`
    entrypoints: { db: { address: ":5432", protocol: tcp } }
    services:
      web: { servers: [http://a:1, "unix:///run/web.sock"], health_check: { path: /healthz } }
      pg: { servers: [tcp://db:5432, "unix+tcp:///run/pg.sock"] }
    tcp_routes: [{ entrypoints: [db], service: pg }]
  `);
  assert.deepEqual(
    [config.services.web.protocol, config.services.pg.protocol],
    ["http", "tcp"],
  );
  assert.deepEqual(config.services.pg.servers[1], {
    url: "unix+tcp:///run/pg.sock",
    scheme: "unix+tcp",
    hostname: "",
    port: 0,
    path: "/run/pg.sock",
    weight: 1,
  });
  assert.deepEqual(
    await errorsOf(yaml`
      entrypoints: { web: { address: ":8080" } }
      services: { mixed: { servers: ["unix:///run/web.sock", "unix+tcp:///run/pg.sock"] } }
    `),
    [
      `2:56 services.mixed.servers[1]: server "unix+tcp:///run/pg.sock" does not match servers[0] "unix:///run/web.sock": a service's servers are all byte streams (tcp://, unix+tcp://), all datagrams (udp://) or all HTTP (http://, https://, h2c://, unix://)`,
    ],
  );
});
