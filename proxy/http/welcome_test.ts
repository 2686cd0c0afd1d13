import assert from "node:assert/strict";
import { parse } from "yaml";
import { decodeConfigFile } from "../config/load.ts";
import { loadConfigText } from "../config/mod.ts";
import type { Config } from "../config/types.ts";
import { startProxy, yaml } from "../testing/proxy.ts";
import { unroutedExampleHost, welcomeResponse } from "./welcome.ts";

async function configOf(text: string): Promise<Config> {
  const loaded = await loadConfigText(text, "/nonexistent/gatehouse.yaml");
  assert.ok(loaded.ok, JSON.stringify(loaded));
  return loaded.config;
}

const BASE = `entrypoints: { web: { address: ":8080" } }
services: { app: { servers: ["http://127.0.0.1:3000"] } }
`;

Deno.test("the welcome page's example routes a host no route has yet, and adding it warns of nothing", async () => {
  // Decoded, not loaded: the shipped config's certificates may not exist yet on this machine.
  const shipped = await decodeConfigFile(
    new URL("../../config/gatehouse.yaml", import.meta.url).pathname,
  );
  // And the hosts the demo apps of docker-compose.yml route by their labels.
  const compose = parse(
    await Deno.readTextFile(new URL("../../docker-compose.yml", import.meta.url)),
    { merge: true },
  );
  const labelled = Object.values<{ labels?: Record<string, string> }>(compose.services)
    .flatMap((service) => Object.entries(service.labels ?? {}))
    .flatMap(([label, value]) =>
      /^gatehouse\.http\.routes\.[^.]+\.host$/.test(label) ? [value] : []
    );
  const hosts = [...shipped!.routes.flatMap((r) => r.match.host), ...labelled];
  assert.ok(hosts.includes("app.localhost"));
  const base = await configOf(
    BASE + `routes:\n  - { service: welcome@internal }\n` +
      hosts.map((h) => `  - { match: { host: ${h} }, service: app }\n`).join(""),
  );
  const example = unroutedExampleHost(base);
  assert.ok(!hosts.includes(example), `${example} is routed already`);

  const taken = await configOf(
    BASE + "routes:\n  - { match: { host: [myapp.localhost, myapp2.localhost] }, service: app }\n",
  );
  assert.equal(unroutedExampleHost(taken), "myapp3.localhost");

  const response = welcomeResponse(base);
  const html = new TextDecoder().decode(response.body as Uint8Array);
  assert.ok(html.includes(`      host: ${example}\n`), html);
  assert.ok(html.includes("<code>/nonexistent/gatehouse.yaml</code>"));

  const name = example.slice(0, example.indexOf("."));
  const followed = await loadConfigText(
    BASE.replace("services: {", `services: { ${name}: { servers: ["http://127.0.0.1:3000"] }, `) +
      `routes:\n  - { service: welcome@internal }\n` +
      hosts.map((h) => `  - { match: { host: ${h} }, service: app }\n`).join("") +
      `  - { name: ${name}, match: { host: ${example} }, service: ${name} }\n`,
    "/nonexistent/gatehouse.yaml",
  );
  assert.ok(followed.ok, JSON.stringify(followed));
  assert.deepEqual(followed.warnings, []);
});

Deno.test("HEAD of the welcome page and of the proxy's own 404, over HTTP/2 and HTTP/1.1: headers, no body", async () => {
  await using gw = await startProxy(yaml`
    entrypoints:
      websecure:
        address: "127.0.0.1:0"
        tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
    routes: [{ match: { path: /welcome }, service: welcome@internal }]
  `);
  for (const http of ["--http2", "--http1.1"]) {
    for (const [path, status] of [["/welcome", 200], ["/other", 404]] as const) {
      const out = await new Deno.Command("curl", {
        args: ["--silent", "--show-error", http, "--head", "--cacert", gw.certs.caCertPath]
          .concat(["--write-out", "%{stderr}%{http_code}", gw.url(path)]),
      }).output();
      const text = new TextDecoder();
      assert.equal(out.code, 0, `${http} ${path}: ${text.decode(out.stderr)}`);
      assert.equal(text.decode(out.stderr), String(status));
      assert.doesNotMatch(text.decode(out.stdout), /Gatehouse is running|page not found/);
    }
  }
  assert.deepEqual(gw.outcomes.map((o) => [o.method, o.status, o.bytesOut]), [
    ["HEAD", 200, 0],
    ["HEAD", 404, 0],
    ["HEAD", 200, 0],
    ["HEAD", 404, 0],
  ]);
});
