import assert from "node:assert/strict";
import { formatConfigError, formatConfigWarning } from "./errors.ts";
import type { ConfigFragment, FragmentItem } from "./fragments.ts";
import { loadConfigText } from "./load.ts";
import { FILE, yaml } from "./test_helpers.ts";

const FILE_CONFIG = yaml`
  entrypoints:
    web: { address: ":8080" }
    raw: { address: ":7000", protocol: tcp }
  routes:
    - name: site
      match: { host: site.test }
      service: site
  services:
    site: { servers: ["http://site:80"] }
  docker: { enabled: true }
`;

function route(name: string, host: string, service: string, extra = {}): FragmentItem {
  const prefix = `gatehouse.http.routes.${name}`;
  return {
    section: "routes",
    value: { name, match: { host: [host] }, service, ...extra },
    labels: {
      "": prefix,
      "match.host": `${prefix}.host`,
      "service": `${prefix}.service`,
      "entrypoints": `${prefix}.entrypoints`,
    },
  };
}

function service(name: string, servers: string[]): FragmentItem {
  const prefix = `gatehouse.http.services.${name}`;
  return {
    section: "services",
    key: name,
    value: { servers },
    labels: { "": prefix, "servers": `${prefix}.port` },
  };
}

function fragment(container: string, items: FragmentItem[]): ConfigFragment {
  return { container, items, errors: [], warnings: [] };
}

const shop = fragment("shop-app-1", [
  route("shop", "shop.test", "shop"),
  service("shop", ["http://172.18.0.5:8000", "http://172.18.0.6:8000"]),
]);

Deno.test("a fragment's routes and services join the file's, marked with their container", async () => {
  const result = await loadConfigText(FILE_CONFIG, FILE, [shop]);
  assert.ok(result.ok, result.ok ? "" : result.errors.map(formatConfigError).join("\n"));
  const { config } = result;
  assert.deepEqual(config.routes.map((r) => [r.name, r.match.hosts, r.service]), [
    ["site", ["site.test"], "site"],
    ["shop", ["shop.test"], "shop"],
  ]);
  assert.deepEqual(config.services.shop.servers.map((s) => s.url), [
    "http://172.18.0.5:8000",
    "http://172.18.0.6:8000",
  ]);
  assert.equal(config.routes[0].pos.label, undefined);
  assert.deepEqual(config.routes[1].pos.label, {
    container: "shop-app-1",
    label: "gatehouse.http.routes.shop",
  });
  assert.equal(config.services.shop.pos.label?.container, "shop-app-1");
  assert.ok(Object.isFrozen(config.services.shop.servers));
  assert.deepEqual(result.skipped, []);

  const plain = await loadConfigText(FILE_CONFIG, FILE);
  assert.ok(plain.ok);
  assert.notEqual(plain.config.version, config.version, "the labels are part of the version");
});

Deno.test("a fragment with a bad value is left out, named by container and label; the rest apply", async () => {
  const bad = fragment("broken-1", [
    route("broken", "not a host!", "broken"),
    service("broken", ["http://172.18.0.9:8000"]),
  ]);
  const result = await loadConfigText(FILE_CONFIG, FILE, [bad, shop]);
  assert.ok(result.ok);
  assert.deepEqual(result.config.routes.map((r) => r.name), ["site", "shop"]);
  assert.equal(result.config.services.broken, undefined);
  assert.deepEqual(result.skipped.map(formatConfigError), [
    `container "broken-1" label "gatehouse.http.routes.broken.host": expected a host name like ` +
    `"app.example.com" or "*.example.com", found "not a host!"`,
  ]);
});

Deno.test("a name the file defines is an error for the container, never an override", async () => {
  const clash = fragment("impostor-1", [
    route("site", "evil.test", "site"),
    service("site", ["http://172.18.0.7:8000"]),
  ]);
  const result = await loadConfigText(FILE_CONFIG, FILE, [clash, shop]);
  assert.ok(result.ok);
  assert.deepEqual(result.config.services.site.servers.map((s) => s.url), ["http://site:80"]);
  assert.deepEqual(result.config.routes.map((r) => [r.name, r.match.hosts]), [
    ["site", ["site.test"]],
    ["shop", ["shop.test"]],
  ]);
  assert.deepEqual(result.skipped.map(formatConfigError).sort(), [
    `container "impostor-1" label "gatehouse.http.routes.site": duplicate route name "site" ` +
    `(also routes[0] at 5:11)`,
    `container "impostor-1" label "gatehouse.http.services.site": service "site" is already ` +
    `defined in ${FILE}:9:3: give this one another name (a container never replaces a service)`,
  ]);
});

Deno.test("between two containers, the later one gets the error for a name both use", async () => {
  const twin = fragment("shop-copy-1", [
    route("shop", "copy.test", "shop"),
    service("shop", ["http://172.18.0.8:8000"]),
  ]);
  const result = await loadConfigText(FILE_CONFIG, FILE, [shop, twin]);
  assert.ok(result.ok);
  assert.deepEqual(result.config.services.shop.servers.length, 2);
  assert.deepEqual(result.skipped.map(formatConfigError).sort(), [
    `container "shop-copy-1" label "gatehouse.http.routes.shop": duplicate route name "shop" ` +
    `(also container "shop-app-1")`,
    `container "shop-copy-1" label "gatehouse.http.services.shop": service "shop" is already ` +
    `defined by container "shop-app-1": give this one another name (a container never ` +
    `replaces a service)`,
  ]);
});

Deno.test("cross checks name the label: an unknown entrypoint", async () => {
  const item = route("odd", "odd.test", "site", { entrypoints: ["nowhere"] });
  const result = await loadConfigText(FILE_CONFIG, FILE, [fragment("odd-1", [item])]);
  assert.ok(result.ok);
  assert.deepEqual(result.skipped.map(formatConfigError), [
    `container "odd-1" label "gatehouse.http.routes.odd.entrypoints": unknown entrypoint ` +
    `"nowhere" (known: web, raw)`,
  ]);
});

Deno.test("errors found before merging leave the fragment out; its warnings are kept", async () => {
  const label = { container: "pre-1", label: "gatehouse.http.routes.x.hots" };
  const error = { file: FILE, line: 0, col: 0, path: "", message: "unknown label", label };
  const warning = {
    ...error,
    message: "not translated",
    label: { ...label, container: "shop-app-1" },
  };
  const failing: ConfigFragment = {
    ...fragment("pre-1", [route("x", "x.test", "site")]),
    errors: [error],
  };
  const warned: ConfigFragment = { ...shop, warnings: [warning] };
  const result = await loadConfigText(FILE_CONFIG, FILE, [failing, warned]);
  assert.ok(result.ok);
  assert.deepEqual(result.config.routes.map((r) => r.name), ["site", "shop"]);
  assert.deepEqual(result.skipped.map(formatConfigError), [
    `container "pre-1" label "gatehouse.http.routes.x.hots": unknown label`,
  ]);
  assert.deepEqual(result.warnings.map(formatConfigWarning), [
    `container "shop-app-1" label "gatehouse.http.routes.x.hots": warning: not translated`,
  ]);
});

Deno.test("a route from labels that an earlier one shadows is a warning naming both places", async () => {
  const copy = fragment("copy-1", [route("copy", "site.test", "site")]);
  const result = await loadConfigText(FILE_CONFIG, FILE, [copy]);
  assert.ok(result.ok);
  assert.deepEqual(result.warnings.map(formatConfigWarning), [
    `container "copy-1" label "gatehouse.http.routes.copy": warning: route "copy" can never ` +
    `match: route "site" (line 5) comes first and takes the same requests (host "site.test", ` +
    `path "/"); give it another host or path, or remove one of them`,
  ]);
});

Deno.test("errors in the file fail the load whatever the fragments hold", async () => {
  const broken = FILE_CONFIG.replace("service: site", "service: nope");
  const result = await loadConfigText(broken, FILE, [shop]);
  assert.equal(result.ok, false);
  assert.deepEqual(result.ok ? [] : result.errors.map(formatConfigError), [
    `${FILE}:7:14 routes[0].service: unknown service "nope" (known: site, shop)`,
  ]);
});

Deno.test("fragments fill sections the file leaves out or empty", async () => {
  const bare = yaml`
    entrypoints:
      web: { address: ":8080" }
    routes:
  `;
  const result = await loadConfigText(bare, FILE, [shop]);
  assert.ok(result.ok, result.ok ? "" : result.errors.map(formatConfigError).join("\n"));
  assert.deepEqual(result.config.routes.map((r) => r.name), ["shop"]);
  assert.deepEqual(Object.keys(result.config.services), ["shop"]);
});

Deno.test("with docker on, a TCP entrypoint may wait for routes from labels", async () => {
  const tcp = yaml`
    entrypoints:
      raw: { address: ":7000", protocol: tcp }
    docker: { enabled: true }
  `;
  assert.ok((await loadConfigText(tcp, FILE)).ok);
  const off = await loadConfigText(tcp.replace("enabled: true", "enabled: false"), FILE);
  assert.equal(off.ok, false);
});
