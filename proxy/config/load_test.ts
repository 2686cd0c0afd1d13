import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { formatConfigError } from "./errors.ts";
import { deepFreeze, loadConfig, loadConfigText } from "./load.ts";
import {
  configOf,
  errorLines,
  errorsIn,
  errorsOf,
  FILE,
  MINIMAL,
  withTempDir,
  yaml,
} from "./test_helpers.ts";

Deno.test("an empty file, or one with only comments, asks for an entrypoint at 1:1", async () => {
  const expected = ["1:1 the file is empty: define at least one entrypoint"];
  assert.deepEqual(await errorsOf(""), expected);
  assert.deepEqual(await errorsOf("# nothing here\n\n# yet\n"), expected);
  assert.deepEqual(await errorsOf("---\n"), expected);
});

Deno.test("YAML syntax errors carry file:line:col", async () => {
  const result = await loadConfigText(
    'entrypoints:\n  web:\n    address: [":80"\nroutes: []\n',
    "c.yaml",
  );
  assert.equal(result.ok, false);
  const [first] = result.ok ? [] : result.errors.map(formatConfigError);
  assert.match(first, /^c\.yaml:4:1 Cannot parse YAML: Flow sequence .*\]$/);
  assert.deepEqual(await errorsOf("entrypoints: {}\n---\nroutes: []\n"), [
    `2:1 the file holds more than one YAML document ("---"): keep one`,
  ]);
  assert.deepEqual(await errorsOf("entrypoints:\n\tweb: {}\n"), [
    "2:1 Cannot parse YAML: Tabs are not allowed as indentation",
  ]);
});

Deno.test("the top level must be a map with entrypoints; unknown keys get suggestions", async () => {
  assert.deepEqual(await errorsOf("- a\n"), ["1:1 expected a map, found a list"]);
  assert.deepEqual(await errorsOf("routes: []\n"), [`1:1 missing required key "entrypoints"`]);
  assert.deepEqual(await errorsOf("entrypoints: {}\n"), [
    "1:14 entrypoints: define at least one entrypoint",
  ]);
  assert.deepEqual(await errorsOf(MINIMAL + "rutes: []\nservices: {}\nlogs: {}\n"), [
    `4:1 unknown key "rutes" (did you mean "routes"?)`,
    `6:1 unknown key "logs" (did you mean "log"?)`,
  ]);
});

Deno.test("a file with three mistakes yields three errors with their line:col", async () => {
  const text = yaml`
    entrypoints:
      web:
        address: ":8080"
    routes:
      - match:
          path: /api
        servcie: api
      - service: ap
    services:
      app:
        servers: [http://app:3000]
        retries: 20
  `;
  assert.deepEqual(await errorsOf(text), [
    `7:5 routes[0]: unknown key "servcie" (did you mean "service"?)`,
    `8:14 routes[1].service: unknown service "ap" (known: app)`,
    "12:14 services.app.retries: expected an integer from 0 to 10, found 20",
  ]);
});

Deno.test("the unknown-service message matches the documented format exactly", async () => {
  const text = MINIMAL + yaml`
    services:
      web: { servers: [http://web:80] }
      app: { servers: [http://app:80] }
    routes:
      - service: web
      - service: app
      - name: api
        service: api
  `;
  const result = await loadConfigText(text, "config/gatehouse.yaml");
  assert.deepEqual(result.ok ? [] : result.errors.map(formatConfigError), [
    `config/gatehouse.yaml:11:14 routes[2].service: unknown service "api" (known: web, app)`,
  ]);
});

Deno.test("defaults are applied everywhere", async () => {
  const config = await configOf(MINIMAL + "routes:\n  - service: welcome@internal\n");
  assert.deepEqual(config.timeouts, {
    headerRead: 10_000,
    keepAliveIdle: 60_000,
    connect: 5000,
    drain: 30_000,
    tlsHandshake: 10_000,
    bodyIdle: 300_000,
  });
  assert.deepEqual(config.limits, {
    maxHeaderBytes: 32 * 1024,
    maxBodyBytes: null,
    maxConnections: "auto",
    maxConnectionsPerClient: 0,
    maxRequestsInFlight: "auto",
  });
  assert.deepEqual(config.forwarding, {
    trustedProxies: [],
    trustUnixClients: false,
    via: "gatehouse",
    requestIdHeader: "x-request-id",
    headerUnderscores: "drop",
    methodOverride: "refuse",
    clientIpDepth: 0,
  });
  assert.deepEqual(config.notFound, {
    status: 404,
    body: "404 page not found: no Gatehouse route matches this host and path\n",
  });
  assert.deepEqual(config.log, {
    level: "info",
    format: "auto",
    accessLog: { enabled: true, format: "auto" },
  });
  assert.deepEqual(config.admin, {
    address: { hostname: "127.0.0.1", port: 9901 },
    tokenEnv: null,
  });
  assert.deepEqual(config.entrypoints.web, {
    name: "web",
    address: { hostname: "0.0.0.0", port: 8080 },
    unix: null,
    protocol: "http",
    tls: null,
    redirect: null,
    h2c: "on",
    maxConnections: 0,
    proxyProtocol: null,
    middlewares: [],
    pos: { file: FILE, line: 2, col: 3 },
  });
  const [route] = config.routes;
  assert.deepEqual({ ...route, pos: undefined }, {
    name: "*/",
    index: 0,
    entrypoints: [],
    match: { hosts: [], pathPrefix: "/", caseSensitive: true, methods: [], headers: [] },
    service: "welcome@internal",
    stripPrefix: false,
    forwardPath: "normalized",
    allowEncoded: [],
    requestHeaders: { set: [], remove: [] },
    responseHeaders: { set: [], remove: [] },
    timeouts: { responseHeader: 60_000, bodyIdle: 300_000, tunnelIdle: 0 },
    upgrade: true,
    maxBodyBytes: null,
    compression: config.compression,
    middlewares: [],
    pos: undefined,
  });
  assert.deepEqual(config.compression, {
    codecs: ["zstd", "br", "gzip"],
    levels: { gzip: 4, br: 4, zstd: 1 },
    minSize: 1024,
    types: [
      "text/*",
      "application/json",
      "application/*+json",
      "application/x-ndjson",
      "application/javascript",
      "application/x-javascript",
      "application/ecmascript",
      "application/xml",
      "application/*+xml",
      "application/wasm",
      "image/svg+xml",
      "font/ttf",
      "font/otf",
      "application/vnd.ms-fontobject",
    ],
  });
  assert.deepEqual(config.services, {});
});

Deno.test("route timeouts and body limit default to the top-level values", async () => {
  const config = await configOf(
    MINIMAL + yaml`
    timeouts: { response_header: 15s, body_idle: off }
    limits: { max_body: 1MiB }
    routes:
      - service: welcome@internal
      - service: welcome@internal
        match: { path: /big }
        timeouts: { response_header: 0, tunnel_idle: 1h }
        max_body: off
  `,
  );
  const [plain, big] = config.routes;
  assert.deepEqual(plain.timeouts, { responseHeader: 15_000, bodyIdle: 0, tunnelIdle: 0 });
  assert.equal(plain.maxBodyBytes, 1024 * 1024);
  assert.deepEqual(big.timeouts, { responseHeader: 0, bodyIdle: 0, tunnelIdle: 3_600_000 });
  assert.equal(big.maxBodyBytes, null);
  assert.equal(config.limits.maxBodyBytes, 1024 * 1024);
});

Deno.test("top-level sections take every documented value", async () => {
  const config = await configOf(
    MINIMAL + yaml`
    timeouts: { header_read: 1m30s, keep_alive_idle: 2.5, connect: 500ms, drain: 1h, tls_handshake: 3s }
    limits: { max_header: 64KiB, max_connections: 100, max_connections_per_client: 20 }
    forwarding: { trusted_proxies: [10.0.0.0/8, "::1"], via: edge-1, request_id_header: X-Trace-Id }
    not_found: { status: 503, body: "" }
    log: { level: debug, format: text, access_log: { enabled: false, format: combined } }
    admin: { address: off, token_env: GATEHOUSE_TOKEN }
  `,
  );
  assert.deepEqual(config.timeouts, {
    headerRead: 90_000,
    keepAliveIdle: 2500,
    connect: 500,
    drain: 3_600_000,
    tlsHandshake: 3000,
    bodyIdle: 300_000,
  });
  assert.deepEqual(config.limits, {
    maxHeaderBytes: 65_536,
    maxBodyBytes: null,
    maxConnections: 100,
    maxConnectionsPerClient: 20,
    maxRequestsInFlight: "auto",
  });
  assert.deepEqual(config.forwarding.trustedProxies.map((c) => [c.text, c.prefix]), [[
    "10.0.0.0/8",
    8,
  ], ["::1", 128]]);
  assert.equal(config.forwarding.via, "edge-1");
  assert.equal(config.forwarding.requestIdHeader, "x-trace-id");
  assert.deepEqual(config.notFound, { status: 503, body: "" });
  assert.deepEqual(config.log, {
    level: "debug",
    format: "text",
    accessLog: { enabled: false, format: "combined" },
  });
  assert.deepEqual(config.admin, { address: null, tokenEnv: "GATEHOUSE_TOKEN" });
  assert.equal((await configOf(MINIMAL + "admin: { address: false }\n")).admin.address, null);
});

Deno.test("the loaded config is deeply frozen", async () => {
  const config = await configOf(MINIMAL + "routes:\n  - service: welcome@internal\n");
  assert.ok(Object.isFrozen(config));
  assert.throws(() => (config.routes as unknown[]).push(1), TypeError);
  assert.throws(() => {
    (config.entrypoints.web.address as { port: number }).port = 1;
  }, TypeError);
  assert.throws(() => {
    (config.routes[0].match.hosts as string[])[0] = "x";
  }, TypeError);
  assert.throws(() => {
    (config.log.accessLog as { enabled: boolean }).enabled = false;
  }, TypeError);
  const cidr = deepFreeze({ bytes: new Uint8Array([1]), list: [{ a: 1 }] });
  assert.ok(Object.isFrozen(cidr.list[0]));
});

Deno.test("source, version and files describe the file", async () => {
  const config = await configOf(MINIMAL, "config/x.yaml");
  assert.equal(config.source, "config/x.yaml");
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(MINIMAL)),
  );
  const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
  assert.equal(config.version, hex.slice(0, 12));
  assert.match(config.version, /^[0-9a-f]{12}$/);
  assert.deepEqual(config.files, [resolve("config/x.yaml")]);
});

Deno.test("loadConfig reads the file, and says what to do when it cannot", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "gatehouse.yaml");
    await Deno.writeTextFile(file, MINIMAL);
    const result = await loadConfig(file);
    assert.ok(result.ok);
    assert.equal(result.config.source, file);
    assert.equal(result.config.version, (await configOf(MINIMAL, file)).version);
    const missing = join(dir, "nope.yaml");
    assert.deepEqual(errorLines(await loadConfig(missing)), [
      "Cannot read the config file: file not found; check the path, or start from config/example.yaml",
    ]);
    assert.deepEqual(errorsIn(await loadConfig(missing)), [{
      file: missing,
      line: 0,
      col: 0,
      path: "",
      message:
        "Cannot read the config file: file not found; check the path, or start from config/example.yaml",
    }]);
    assert.deepEqual(errorLines(await loadConfig(dir)), [
      "Cannot read the config file: it is a directory, not a file",
    ]);
    await Deno.writeFile(file, new Uint8Array([0xff, 0xfe, 0x00]));
    assert.deepEqual(errorLines(await loadConfig(file)), [
      "Cannot read the config file: it is not UTF-8 text",
    ]);
  });
});
