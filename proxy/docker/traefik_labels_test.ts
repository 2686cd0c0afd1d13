import assert from "node:assert/strict";
import { formatConfigError, formatConfigWarning } from "../config/errors.ts";
import { yaml } from "../config/test_helpers.ts";
import { parseTraefikLabels } from "./traefik_labels.ts";
import { container, fragmentsOf, loadWith, replica, settings } from "./test_helpers.ts";

const FILE = yaml`
  entrypoints:
    web: { address: ":8080" }
    websecure: { address: ":8443" }
    tls: { address: ":9443", protocol: tcp }
  docker: { enabled: true, traefik_labels: true }
`;

const WHOAMI = {
  "traefik.enable": "true",
  "traefik.http.routers.whoami.rule": "Host(`whoami.localhost`) || Host(`who.localhost`)",
  "traefik.http.routers.whoami.entrypoints": "websecure",
  "traefik.http.routers.whoami.tls": "true",
  "traefik.http.routers.whoami.tls.certresolver": "le",
  "traefik.http.routers.whoami-api.rule": "Host(`whoami.localhost`) && PathPrefix(`/api`)",
  "traefik.http.routers.whoami-api.middlewares": "api-strip@docker",
  "traefik.http.routers.whoami-api.service": "whoami",
  "traefik.http.middlewares.api-strip.stripprefix.prefixes": "/api",
  "traefik.http.services.whoami.loadbalancer.server.port": "8000",
  "traefik.http.services.whoami.loadbalancer.healthcheck.path": "/health",
  "traefik.http.services.whoami.loadbalancer.healthcheck.interval": "10s",
};

Deno.test("a Traefik-labelled service: routers, stripprefix, load balancer port and health check", async () => {
  const replicas = [replica("whoami", 1, WHOAMI), replica("whoami", 2, WHOAMI)];
  const result = await loadWith(FILE, replicas, settings({ traefikLabels: true }));
  assert.ok(result.ok, result.ok ? "" : result.errors.map(formatConfigError).join("\n"));
  assert.deepEqual(result.skipped, []);
  const { routes, services } = result.config;
  assert.deepEqual(
    routes.map((r) => [r.name, r.match.hosts, r.match.pathPrefix, r.stripPrefix, r.service]),
    [
      ["whoami-api", ["whoami.localhost"], "/api", true, "whoami"],
      ["whoami", ["whoami.localhost", "who.localhost"], "/", false, "whoami"],
    ],
  );
  assert.deepEqual(routes[1].entrypoints, ["websecure"]);
  assert.deepEqual(services.whoami.servers.map((s) => s.port), [8000, 8000]);
  assert.equal(services.whoami.healthCheck?.path, "/health");
  assert.deepEqual(result.warnings.map(formatConfigWarning), [
    `container "shop-whoami-2" label "traefik.http.routers.whoami.tls.certresolver": warning: not ` +
    `translated (Gatehouse ranks routes by how specific they are and takes certificates from ` +
    `the entrypoint's tls settings); the router is kept without it`,
  ]);
});

Deno.test("traefik labels are read only with docker.traefik_labels on", () => {
  const c = container("whoami-1", WHOAMI);
  assert.deepEqual(fragmentsOf([c]), []);
  assert.equal(fragmentsOf([c], settings({ traefikLabels: true })).length, 1);
});

Deno.test("a router with an untranslatable middleware or rule is left out with one warning each", () => {
  const def = parseTraefikLabels({
    "traefik.enable": "true",
    "traefik.http.routers.admin.rule": "Host(`admin.test`)",
    "traefik.http.routers.admin.middlewares": "admin-auth",
    "traefik.http.routers.admin.entrypoints": "websecure",
    "traefik.http.middlewares.admin-auth.basicauth.users": "admin:$apr1$x$y",
    "traefik.http.routers.regex.rule": "HostRegexp(`{sub:.+}.test`)",
    "traefik.http.routers.regex.entrypoints": "web",
    "traefik.http.routers.ok.rule": "Host(`ok.test`)",
    "traefik.http.routers.ok.priority": "10",
    "traefik.http.services.ok.loadbalancer.sticky.cookie": "true",
  });
  assert.deepEqual(def.routes.map((r) => r.name), ["ok"]);
  assert.deepEqual(def.errors, []);
  assert.deepEqual(def.warnings.map((w) => [w.label, w.message]), [
    [
      "traefik.http.routers.admin.middlewares",
      `not translated: middleware "admin-auth" (only a stripprefix of the router's own ` +
      `PathPrefix becomes strip_prefix, and encodedcharacters allow_encoded); the router is ` +
      `left out`,
    ],
    [
      "traefik.http.routers.ok.priority",
      "not translated (Gatehouse ranks routes by how specific they are and takes certificates from the entrypoint's tls settings); the router is kept without it",
    ],
    [
      "traefik.http.routers.regex.rule",
      "not translated: HostRegexp() has no Gatehouse equivalent; the router is left out",
    ],
    [
      "traefik.http.services.ok.loadbalancer.sticky.cookie",
      "not translated (unknown to Gatehouse); the service is kept without it",
    ],
    [
      "traefik.http.middlewares.admin-auth.basicauth.users",
      "not translated (Traefik middlewares are not read, except a stripprefix of a router's own path and encodedcharacters)",
    ],
  ]);
});

Deno.test("an encodedcharacters middleware becomes the route's allow_encoded; the null is refused", async () => {
  const labels = {
    "traefik.enable": "true",
    "traefik.http.routers.registry.rule": "Host(`registry.test`)",
    "traefik.http.routers.registry.middlewares": "chars,strip-none@file",
    "traefik.http.middlewares.chars.encodedcharacters.allowencodedslash": "true",
    "traefik.http.middlewares.chars.encodedCharacters.allowEncodedPercent": "true",
    "traefik.http.middlewares.chars.encodedcharacters.allowencodedhash": "false",
    "traefik.http.middlewares.chars.encodedcharacters.allowencodednullcharacter": "true",
    "traefik.http.services.registry.loadbalancer.server.port": "5000",
  };
  const def = parseTraefikLabels(labels);
  assert.deepEqual(def.warnings.map((w) => [w.label, w.message]), [
    [
      "traefik.http.middlewares.chars.encodedcharacters.allowencodednullcharacter",
      "not translated: Gatehouse refuses an encoded null (%00) in every path; the router is " +
      "kept without it",
    ],
  ]);
  const result = await loadWith(
    FILE + "middlewares: { strip-none: { headers: { response: { set: { x-a: b } } } } }\n",
    [replica("registry", 1, labels)],
    settings({ traefikLabels: true }),
  );
  assert.ok(result.ok, result.ok ? "" : result.errors.map(formatConfigError).join("\n"));
  const [route] = result.config.routes;
  assert.deepEqual([route.name, [...route.allowEncoded].sort(), route.middlewares], [
    "registry",
    ["percent", "slash"],
    ["strip-none"],
  ]);
});

Deno.test("Traefik TCP routers: HostSNI and TLS passthrough", async () => {
  const db = container("db-1", {
    "traefik.enable": "true",
    "traefik.tcp.routers.pg.rule": "HostSNI(`db.test`)",
    "traefik.tcp.routers.pg.entrypoints": "tls",
    "traefik.tcp.routers.pg.tls.passthrough": "true",
    "traefik.tcp.services.pg.loadbalancer.server.port": "5432",
  });
  const result = await loadWith(FILE, [db], settings({ traefikLabels: true }));
  assert.ok(result.ok, result.ok ? "" : result.errors.map(formatConfigError).join("\n"));
  assert.deepEqual(result.skipped.map(formatConfigError), []);
  assert.deepEqual(result.config.tcpRoutes.map((r) => [r.name, r.sni, r.passthrough]), [
    ["pg", ["db.test"], true],
  ]);
  assert.deepEqual(result.config.services.pg.servers.map((s) => s.url), [
    `tcp://${db.networks[0].ip}:5432`,
  ]);
});
