import assert from "node:assert/strict";
import { formatConfigError, formatConfigWarning } from "../config/errors.ts";
import type { LoadResult } from "../config/load.ts";
import type { Config } from "../config/types.ts";
import { yaml } from "../config/test_helpers.ts";
import { parseGatehouseLabels } from "./labels.ts";
import { container, fragmentsOf, loadWith, replica, settings } from "./test_helpers.ts";

const FILE = yaml`
  entrypoints:
    web: { address: ":8080" }
    websecure: { address: ":8443" }
    db: { address: ":5432", protocol: tcp }
  routes:
    - name: site
      match: { host: site.test }
      service: site
  services:
    site: { servers: ["http://site:80"] }
  docker: { enabled: true }
`;

function loaded(result: LoadResult): Config {
  assert.ok(result.ok, result.ok ? "" : result.errors.map(formatConfigError).join("\n"));
  return result.config;
}

function skipped(result: LoadResult): string[] {
  return result.ok ? result.skipped.map(formatConfigError) : ["(the load failed)"];
}

const SHOP = {
  "gatehouse.enable": "true",
  "gatehouse.http.routes.shop.host": "shop.test, www.shop.test",
  "gatehouse.http.routes.shop.path": "/store",
  "gatehouse.http.routes.shop.case_sensitive": "false",
  "gatehouse.http.routes.shop.strip_prefix": "true",
  "gatehouse.http.routes.shop.allow_encoded": "slash,percent",
  "gatehouse.http.routes.shop.entrypoints": "websecure",
  "gatehouse.http.routes.shop.methods": "GET,POST",
  "gatehouse.http.services.shop.port": "3000",
  "gatehouse.http.services.shop.health_check.path": "/healthz",
  "gatehouse.http.services.shop.health_check.interval": "5s",
  "gatehouse.http.services.shop.balancing": "least_requests",
};

Deno.test("routes and services from labels; every replica of a compose service is a server", async () => {
  const replicas = [1, 2, 3].map((i) => replica("shop", i, SHOP));
  const config = loaded(await loadWith(FILE, replicas));
  const route = config.routes.find((r) => r.name === "shop")!;
  assert.deepEqual(route.match, {
    hosts: ["shop.test", "www.shop.test"],
    pathPrefix: "/store",
    caseSensitive: false,
    methods: ["GET", "POST"],
    headers: [],
  });
  assert.deepEqual([route.entrypoints, route.stripPrefix, route.allowEncoded, route.service], [
    ["websecure"],
    true,
    ["slash", "percent"],
    "shop",
  ]);
  assert.deepEqual(route.pos.label, {
    container: "shop-shop-3",
    label: "gatehouse.http.routes.shop",
  });
  const service = config.services.shop;
  assert.deepEqual(
    service.servers.map((s) => s.url),
    replicas.map((r) => `http://${r.networks[0].ip}:3000`),
  );
  assert.equal(service.balancing, "least_requests");
  assert.deepEqual([service.healthCheck?.path, service.healthCheck?.interval], ["/healthz", 5000]);
  const raw = loaded(
    await loadWith(FILE, [
      replica("raw", 1, {
        "gatehouse.enable": "true",
        "gatehouse.http.routes.raw.path": "/raw",
        "gatehouse.http.routes.raw.forward_path": "as_sent",
        "gatehouse.http.services.raw.port": "3000",
      }),
    ]),
  );
  assert.equal(raw.routes.find((r) => r.name === "raw")?.forwardPath, "as_sent");
});

Deno.test("a route without a service gets one named after the group, on the only exposed port", async () => {
  const app = replica("app", 1, {
    "gatehouse.enable": "true",
    "gatehouse.http.routes.app.host": "app.test",
  }, { ports: [{ port: 8000, protocol: "tcp" }, { port: 53, protocol: "udp" }] });
  const config = loaded(await loadWith(FILE, [app]));
  assert.equal(config.routes.at(-1)!.service, "app");
  assert.deepEqual(config.services.app.servers.map((s) => s.url), [
    `http://${app.networks[0].ip}:8000`,
  ]);
});

Deno.test("no port label and several exposed ports: an error that says which label to add", async () => {
  const app = container("multi-1", {
    "gatehouse.enable": "true",
    "gatehouse.http.routes.multi.host": "multi.test",
  }, { ports: [{ port: 7000, protocol: "tcp" }, { port: 8000, protocol: "tcp" }] });
  const result = await loadWith(FILE, [app]);
  assert.deepEqual(skipped(result), [
    `container "multi-1" label "gatehouse.http.services.multi-1.port": the container exposes ` +
    `several TCP ports (7000, 8000): say which one with the label ` +
    `gatehouse.http.services.multi-1.port=<port>`,
  ]);
  assert.deepEqual(loaded(result).routes.map((r) => r.name), ["site"]);
});

Deno.test("label mistakes are errors at the label: unknown keys (with a guess), ports, values", async () => {
  const def = parseGatehouseLabels({
    "gatehouse.http.routes.a.hots": "a.test",
    "gatehouse.http.services.a.port": "eighty",
    "gatehouse.http.services.a.scheme": "ftp",
    "gatehouse.http.routers.a.rule": "Host(`a`)",
    "gatehouse.enable": "yes please",
  });
  assert.deepEqual(def.errors, [
    { label: "gatehouse.enable", message: `expected true or false, found "yes please"` },
    {
      label: "gatehouse.http.routers.a.rule",
      message: "unknown label: write gatehouse.enable, gatehouse.docker.network, or " +
        "gatehouse.<http|tcp|udp>.<routes|services>.<name>.<key>",
    },
    {
      label: "gatehouse.http.routes.a.hots",
      message: `unknown key "hots" (did you mean "host"?) (known: host, path, case_sensitive, ` +
        `methods, entrypoints, middlewares, strip_prefix, forward_path, allow_encoded, service)`,
    },
    {
      label: "gatehouse.http.services.a.port",
      message: `expected a container port from 1 to 65535, found "eighty"`,
    },
    {
      label: "gatehouse.http.services.a.scheme",
      message: `expected "http" or "https", found "ftp"`,
    },
  ]);

  const bad = container("bad-1", {
    "gatehouse.enable": "true",
    "gatehouse.http.routes.bad.host": "bad.test",
    "gatehouse.http.routes.bad.path": "no-slash",
  });
  const good = container("good-1", {
    "gatehouse.enable": "true",
    "gatehouse.http.routes.good.host": "good.test",
  });
  const result = await loadWith(FILE, [bad, good]);
  assert.deepEqual(skipped(result), [
    `container "bad-1" label "gatehouse.http.routes.bad.path": expected a path prefix starting ` +
    `with "/", found "no-slash"`,
  ]);
  assert.deepEqual(loaded(result).routes.map((r) => r.name), ["site", "good"]);
});

Deno.test("middlewares by name and UDP routes from labels", async () => {
  const file = yaml`
    entrypoints:
      websecure: { address: ":8443" }
      dns: { address: ":5353", protocol: udp }
    middlewares:
      office: { ip_allow: [10.0.0.0/8] }
    docker: { enabled: true }
  `;
  const app = container("app-1", {
    "gatehouse.enable": "true",
    "gatehouse.http.routes.app.host": "app.test",
    "gatehouse.http.routes.app.middlewares": "office",
    "gatehouse.http.services.app.port": "8000",
    "gatehouse.udp.routes.dns.entrypoints": "dns",
    "gatehouse.udp.services.dns.port": "53",
  });
  const config = loaded(await loadWith(file, [app]));
  assert.deepEqual(config.routes.find((r) => r.name === "app")?.middlewares, ["office"]);
  assert.deepEqual(config.udpRoutes.map((r) => [r.name, r.entrypoints, r.service]), [
    ["dns", ["dns"], "dns"],
  ]);
  assert.deepEqual(config.services.dns.servers.map((s) => s.url), [
    `udp://${app.networks[0].ip}:53`,
  ]);

  const typo = container("app-2", {
    "gatehouse.enable": "true",
    "gatehouse.http.routes.other.host": "other.test",
    "gatehouse.http.routes.other.middlewares": "ofice",
    "gatehouse.http.services.other.port": "8000",
  });
  const both = await loadWith(file, [app, typo]);
  assert.deepEqual(skipped(both), [
    'container "app-2" label "gatehouse.http.routes.other.middlewares": unknown middleware ' +
    '"ofice" (did you mean "office"?) (known: office)',
  ]);
  assert.ok(loaded(both).routes.some((r) => r.name === "app"));
});

Deno.test("TCP routes and services from labels", async () => {
  const db = container("db-1", {
    "gatehouse.enable": "true",
    "gatehouse.tcp.routes.pg.entrypoints": "db",
    "gatehouse.tcp.services.pg.port": "5432",
    "gatehouse.tcp.services.pg.health_check.interval": "3s",
  });
  const config = loaded(await loadWith(FILE, [db]));
  assert.deepEqual(config.tcpRoutes.map((r) => [r.name, r.entrypoints, r.service]), [
    ["pg", ["db"], "pg"],
  ]);
  assert.deepEqual(config.services.pg.servers.map((s) => s.url), [
    `tcp://${db.networks[0].ip}:5432`,
  ]);
  assert.equal(config.services.pg.healthCheck?.interval, 3000);
});

Deno.test("opt in by default; exposed_by_default routes labelled containers unless they opt out", () => {
  const labelled = { "gatehouse.http.routes.x.host": "x.test" };
  const plain = container("plain-1", labelled);
  const out = container("out-1", { ...labelled, "gatehouse.enable": "false" });
  const bare = container("bare-1", {});
  assert.deepEqual(fragmentsOf([plain, out, bare]), []);
  const exposed = settings({ exposedByDefault: true });
  assert.deepEqual(fragmentsOf([plain, out, bare], exposed).map((f) => f.container), ["plain-1"]);
});

Deno.test("stopped, unhealthy and paused containers are left out; starting ones take part", () => {
  const on = { "gatehouse.enable": "true", "gatehouse.http.routes.x.host": "x.test" };
  const starting = replica("x", 1, on, { health: "starting" });
  const unhealthy = replica("x", 2, on, { health: "unhealthy" });
  const paused = replica("x", 3, on, { state: "paused" });
  const [fragment] = fragmentsOf([starting, unhealthy, paused]);
  const service = fragment.items.find((i) => i.section === "services")!;
  assert.deepEqual(service.value.servers, [`http://${starting.networks[0].ip}:8000`]);
});

Deno.test("a replica that cannot be reached is reported alone; the others serve", async () => {
  const on = { "gatehouse.enable": "true", "gatehouse.http.routes.web.host": "web.test" };
  const ok = replica("web", 1, on);
  const lost = replica("web", 2, on, {
    networks: [{ name: "other", ip: "10.9.0.2", ipv6: "" }, {
      name: "more",
      ip: "10.8.0.2",
      ipv6: "",
    }],
  });
  const result = await loadWith(FILE, [ok, lost]);
  assert.deepEqual(skipped(result), [
    `container "shop-web-2" label "gatehouse.enable": Cannot reach the container: it is attached ` +
    `to several networks (other, more): set docker.network in the config, or label the ` +
    `container gatehouse.docker.network=<name>`,
  ]);
  assert.deepEqual(loaded(result).services.web.servers.map((s) => s.url), [
    `http://${ok.networks[0].ip}:8000`,
  ]);

  const both = replica("web", 3, { ...on, "gatehouse.docker.network": "more" }, {
    networks: [{ name: "other", ip: "10.9.0.3", ipv6: "" }, {
      name: "more",
      ip: "10.8.0.3",
      ipv6: "",
    }],
  });
  const fragments = fragmentsOf([both]);
  const service = fragments[0].items.find((i) => i.section === "services")!;
  assert.deepEqual(service.value.servers, ["http://10.8.0.3:8000"]);
  const viaConfig = fragmentsOf([lost], settings({ network: "other" }));
  assert.deepEqual(
    viaConfig[0].items.find((i) => i.section === "services")!.value.servers,
    ["http://10.9.0.2:8000"],
  );
});

Deno.test("a route among several services must name one; a container without routes is a warning", async () => {
  const two = container("two-1", {
    "gatehouse.enable": "true",
    "gatehouse.http.routes.front.host": "front.test",
    "gatehouse.http.services.api.port": "8000",
    "gatehouse.http.services.admin.port": "9000",
  });
  const idle = container("idle-1", { "gatehouse.enable": "true" });
  const result = await loadWith(FILE, [two, idle]);
  assert.deepEqual(skipped(result), [
    `container "two-1" label "gatehouse.http.routes.front": route "front" does not say which ` +
    `service it uses (services: admin, api): add the label ` +
    `gatehouse.http.routes.front.service=<name>`,
  ]);
  assert.ok(result.ok);
  assert.deepEqual(result.warnings.map(formatConfigWarning), [
    `container "idle-1" label "gatehouse.enable": warning: the container is enabled but defines ` +
    `no route: add a label like gatehouse.http.routes.<name>.host=<host>`,
  ]);
});

Deno.test("a label route may use a service of the file", async () => {
  const extra = container("extra-1", {
    "gatehouse.enable": "true",
    "gatehouse.http.routes.extra.host": "extra.test",
    "gatehouse.http.routes.extra.service": "site",
  });
  const config = loaded(await loadWith(FILE, [extra]));
  assert.equal(config.routes.at(-1)!.service, "site");
  assert.equal(Object.keys(config.services).length, 1);
});
