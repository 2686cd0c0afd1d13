import assert from "node:assert/strict";
import { join } from "node:path";
import { ensureDevCertificates } from "../pki/dev_ca.ts";
import { testPki } from "../testing/certs.ts";
import { loadConfigText } from "./load.ts";
import { configOf, errorLines, withTempDir, writePair } from "./test_helpers.ts";

const read = (name: string) => Deno.readTextFile(new URL(`../../config/${name}`, import.meta.url));

Deno.test("the shipped YAML files point editors at the JSON Schema", async () => {
  for (const name of ["gatehouse.yaml", "example.yaml"]) {
    const [first] = (await read(name)).split("\n");
    assert.equal(first, "# yaml-language-server: $schema=./gatehouse.schema.json", name);
  }
});

Deno.test("config/gatehouse.yaml loads with the certificates of deno task certs", async () => {
  const text = await read("gatehouse.yaml");
  await withTempDir(async (dir) => {
    await ensureDevCertificates(join(dir, "certs"));
    const config = await configOf(text, join(dir, "config", "gatehouse.yaml"));
    const { web, websecure } = config.entrypoints;
    assert.deepEqual(web.address, { hostname: "0.0.0.0", port: 8080 });
    assert.deepEqual(web.redirect, { to: "websecure", port: null });
    assert.deepEqual(websecure.address, { hostname: "0.0.0.0", port: 8443 });
    const [cert] = websecure.tls!.certificates;
    assert.deepEqual([cert.name, cert.hosts], ["localhost", ["localhost", "*.localhost"]]);
    assert.equal(cert.certFile, join(dir, "certs", "localhost.crt"));
    assert.equal(websecure.tls!.defaultCertificate, "localhost");
    assert.deepEqual(config.admin.address, { hostname: "127.0.0.1", port: 9901 });
    assert.deepEqual(config.routes.map((r) => [r.name, r.service, r.match.hosts]), [
      ["welcome", "welcome@internal", []],
    ]);
    assert.deepEqual(config.routes[0].match, {
      hosts: [],
      pathPrefix: "/",
      caseSensitive: true,
      methods: [],
      headers: [],
    });
    assert.deepEqual(
      Object.entries(config.services).map(([name, s]) => [name, s.servers.map((x) => x.url)]),
      [["demo-echo", ["tcp://echo:7000"]]],
    );
    assert.deepEqual([config.entrypoints.echo.protocol, config.entrypoints.echo.address.port], [
      "tcp",
      7000,
    ]);
    assert.deepEqual(config.tcpRoutes.map((r) => [r.name, r.entrypoints, r.service]), [
      ["demo-echo", ["echo"], "demo-echo"],
    ]);
    assert.equal(config.docker.enabled, false, "routes from labels only where compose says so");
  });
});

Deno.test("config/gatehouse.yaml in the compose stack follows the socket proxy", async () => {
  const text = await read("gatehouse.yaml");
  const env = { GATEHOUSE_DOCKER: "true", GATEHOUSE_DOCKER_ENDPOINT: "tcp://docker-api:2375" };
  for (const [name, value] of Object.entries(env)) Deno.env.set(name, value);
  try {
    await withTempDir(async (dir) => {
      await ensureDevCertificates(join(dir, "certs"));
      const config = await configOf(text, join(dir, "config", "gatehouse.yaml"));
      assert.equal(config.docker.enabled, true);
      assert.deepEqual(config.docker.endpoint, {
        transport: "tcp",
        hostname: "docker-api",
        port: 2375,
      });
    });
  } finally {
    for (const name of Object.keys(env)) Deno.env.delete(name);
  }
});

Deno.test("config/gatehouse.yaml without certificates says to run deno task certs", async () => {
  const text = await read("gatehouse.yaml");
  await withTempDir(async (dir) => {
    const errors = errorLines(await loadConfigText(text, join(dir, "config", "gatehouse.yaml")));
    assert.equal(errors.length, 2);
    for (const error of errors) assert.match(error, /file not found; run "deno task certs"/);
  });
});

Deno.test("config/gatehouse.yaml's commented-out route and service work when uncommented", async () => {
  const text = await read("gatehouse.yaml");
  let uncommented = 0;
  const edited = text.replace(/^( *)# ( *(?:- )?(?:[a-z_]+:.*|http.*))$/gm, (_, indent, line) => {
    uncommented++;
    return indent + line;
  });
  assert.equal(uncommented, 7);
  await withTempDir(async (dir) => {
    await ensureDevCertificates(join(dir, "certs"));
    const config = await configOf(edited, join(dir, "config", "gatehouse.yaml"));
    assert.deepEqual(config.routes.map((r) => [r.name, r.service, r.match.hosts]), [
      ["welcome", "welcome@internal", []],
      ["myapp", "myapp", ["myapp.localhost"]],
    ]);
    assert.equal(config.services.myapp.servers[0].url, "http://127.0.0.1:3000");
  });
});

Deno.test("config/example.yaml loads and uses every feature", async () => {
  const text = await read("example.yaml");
  const pki = await testPki();
  await withTempDir(async (dir) => {
    const certs = join(dir, "certs");
    await writePair(certs, "example", await pki.leaf("example.com", "*.example.com"));
    await writePair(certs, "legacy", await pki.leaf("legacy.test"));
    await Deno.writeTextFile(join(certs, "internal-ca.crt"), pki.caPem);
    const config = await configOf(text, join(dir, "config", "example.yaml"));
    const tls = config.entrypoints.websecure.tls!;
    assert.deepEqual(tls.certificates.map((c) => [c.name, c.hosts]), [
      ["example", ["example.com", "*.example.com"]],
      ["legacy", ["old.example.com", "*.old.example.com"]],
    ]);
    assert.equal(tls.defaultCertificate, "example");
    assert.equal(tls.acme, true);
    assert.equal(config.acme.directory, "https://acme-staging-v02.api.letsencrypt.org/directory");
    assert.equal(config.acme.storage, join(dir, "certs", "acme"));
    assert.deepEqual(config.entrypoints.web.redirect, { to: "websecure", port: 443 });
    assert.deepEqual(config.routes.map((r) => r.name), [
      "api",
      "uploads",
      "live",
      "app.example.com/",
      "docs.example.com/",
      "internal-welcome",
    ]);
    const [api, uploads, live] = config.routes;
    assert.equal(api.stripPrefix, true);
    assert.deepEqual(api.requestHeaders.set, [["x-forwarded-prefix", "/api"]]);
    assert.deepEqual(uploads.match.methods, ["POST", "PUT"]);
    assert.deepEqual(uploads.match.headers[0], { name: "x-upload-token", value: null });
    assert.equal(live.timeouts.tunnelIdle, 600_000);
    assert.deepEqual(api.compression?.codecs, ["zstd", "gzip"]);
    assert.equal(api.compression?.minSize, 256);
    assert.equal(api.compression?.levels.zstd, 1);
    assert.equal(uploads.compression, null);
    assert.equal(config.compression?.types.length, 8);
    const { app, api: apiService } = config.services;
    assert.deepEqual(app.servers.map((s) => s.weight), [3, 1]);
    assert.deepEqual(app.healthCheck?.expectStatus, [200, 299]);
    assert.ok(app.passiveHealth);
    assert.equal(apiService.passiveHealth, null);
    assert.equal(apiService.tls.caPem, pki.caPem);
    assert.equal(apiService.tls.serverName, "api.internal");
    assert.equal(config.forwarding.trustedProxies.length, 3);
    assert.deepEqual(config.log.accessLog, { enabled: true, format: "combined" });
    assert.equal(config.admin.tokenEnv, "GATEHOUSE_ADMIN_TOKEN");
    assert.deepEqual(config.docker, {
      enabled: true,
      endpoint: { transport: "tcp", hostname: "docker-api", port: 2375 },
      endpointText: "tcp://docker-api:2375",
      exposedByDefault: false,
      network: "apps",
      traefikLabels: true,
    });
    assert.deepEqual(config.tcpRoutes.map((r) => [r.name, r.entrypoints, r.sni, r.passthrough]), [
      ["postgres", ["postgres"], [], false],
      ["redis", ["redis"], [], false],
      ["git", ["tls-sni"], ["git.example.com", "*.git.example.com"], true],
      ["vault", ["websecure"], ["vault.example.com"], true],
      ["agent", ["agent"], [], false],
    ]);
    const { postgres, redis } = config.entrypoints;
    assert.deepEqual([postgres.protocol, postgres.maxConnections], ["tcp", 500]);
    assert.deepEqual(postgres.proxyProtocol?.trusted.map((c) => c.text), ["10.0.0.0/8"]);
    assert.deepEqual(redis.tls?.alpn, []);
    assert.equal(config.tcpRoutes[0].proxyProtocol, "v2");
    assert.deepEqual(config.tcpRoutes[0].timeouts, { idle: 3_600_000, connect: 2000 });
    assert.equal(config.services.postgres.protocol, "tcp");
    assert.equal(config.services.postgres.healthCheck?.path, null);
    assert.deepEqual(config.services.docs.servers.map((s) => [s.scheme, s.path]), [
      ["unix", "/run/docs/app.sock"],
    ]);
    assert.deepEqual(config.services.agent.servers.map((s) => [s.scheme, s.path]), [
      ["unix+tcp", "/run/agent/agent.sock"],
    ]);
    assert.equal(config.services.agent.protocol, "tcp");
  });
});
