import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeConfigFile } from "../config/load.ts";
import { closedPort, waitFor } from "../testing/servers.ts";
import { yaml } from "../testing/proxy.ts";
import { parseCertificatePem } from "../pki/certificate.ts";
import {
  ensureDevCertificatesFor,
  fragmentLocalhostNames,
  routedLocalhostNames,
  servesDevCertificate,
} from "./dev_certs.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** A checkout-like tree: DIR/config/gatehouse.yaml holding `text`, DIR/certs empty. */
async function tree(text: string): Promise<{ dir: string; config: string; certs: string }> {
  const dir = await Deno.makeTempDir({ prefix: "gatehouse-dev-certs-" });
  await Deno.mkdir(join(dir, "config"));
  await Deno.mkdir(join(dir, "certs"));
  const config = join(dir, "config", "gatehouse.yaml");
  await Deno.writeTextFile(config, text);
  return { dir, config, certs: join(dir, "certs") };
}

const USES_DEV_CERT = yaml`
  entrypoints:
    websecure:
      address: "127.0.0.1:0"
      tls: { certificates: [{ cert: ../certs/localhost.crt, key: ../certs/localhost.key }] }
    echo: { address: "127.0.0.1:0", protocol: tcp, tls: { certificates: [{ cert: ../certs/localhost.crt, key: ../certs/localhost.key }] } }
  routes:
    - { match: { host: [App.localhost, example.com, "*.api.localhost"] }, service: app }
    - { match: { host: app.localhost, path: /x }, service: app }
    - { match: { path: /any }, service: app }
  tcp_routes:
    - { entrypoints: [echo], sni: db.localhost, service: db }
    - { entrypoints: [websecure], sni: git.localhost, passthrough: true, service: db }
  services:
    app: { servers: ["http://127.0.0.1:9"] }
    db: { servers: ["tcp://127.0.0.1:9"] }
`;

Deno.test("the localhost names a config routes, and whether it serves certs/localhost.crt", async () => {
  const t = await tree(USES_DEV_CERT);
  try {
    const raw = await decodeConfigFile(t.config);
    assert.ok(raw);
    assert.deepEqual(routedLocalhostNames(raw), [
      "app.localhost",
      "*.api.localhost",
      "db.localhost",
    ]);
    assert.equal(servesDevCertificate(raw, join(t.dir, "config"), t.certs), true);
    assert.equal(servesDevCertificate(raw, join(t.dir, "config"), join(t.dir, "other")), false);

    const made = await ensureDevCertificatesFor(t.config, t.certs, ["extra.test"]);
    assert.equal(made?.action, "created");
    const leaf = parseCertificatePem(await Deno.readTextFile(join(t.certs, "localhost.crt")));
    assert.deepEqual(leaf.dnsNames, [
      "localhost",
      "*.localhost",
      "app.localhost",
      "*.api.localhost",
      "db.localhost",
      "extra.test",
    ]);

    await Deno.writeTextFile(t.config, USES_DEV_CERT.replaceAll("../certs/", "../mine/"));
    assert.equal(await ensureDevCertificatesFor(t.config, t.certs), null);
    await Deno.writeTextFile(t.config, "entrypoints: {}\n");
    assert.equal(await ensureDevCertificatesFor(t.config, t.certs), null);
  } finally {
    await Deno.remove(t.dir, { recursive: true });
  }
});

/** curl's status for https://HOST:PORT/ trusting only `ca`, or its TLS error. */
async function curlStatus(host: string, port: number, ca: string): Promise<string> {
  const out = await new Deno.Command("curl", {
    args: ["--silent", "--show-error", "--output", "/dev/null", "--write-out", "%{http_code}"]
      .concat(["--cacert", ca, "--resolve", `${host}:${port}:127.0.0.1`])
      .concat(["--max-time", "5", `https://${host}:${port}/`]),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return out.code === 0 ? text.decode(out.stdout) : text.decode(out.stderr).trim();
}

Deno.test("first start makes the CA and a certificate for the routed names; a reload adds a new route's", async () => {
  const port = closedPort();
  const config = (hosts: string) =>
    yaml`
    entrypoints:
      websecure:
        address: "127.0.0.1:${port}"
        tls: { certificates: [{ cert: ../certs/localhost.crt, key: ../certs/localhost.key }] }
    routes: [{ match: { host: [${hosts}] }, service: app }]
    services: { app: { servers: ["http://127.0.0.1:${closedPort()}"] } }
    admin: { address: "off" }
  `;
  const t = await tree(config("a.localhost"));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--config", t.config, "--ensure-dev-certs", "certs"],
    cwd: t.dir,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const log = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(new WritableStream());
  try {
    const ca = join(t.certs, "gatehouse-dev-ca.crt");
    await waitFor(
      async () => (await curlStatus("a.localhost", port, ca)) === "502",
      "a.localhost",
      30_000,
    );
    const caPem = await Deno.readTextFile(ca);
    assert.match(
      await curlStatus("b.localhost", port, ca),
      /no alternative certificate subject name/,
    );

    await Deno.writeTextFile(t.config, config("a.localhost, b.localhost"));
    await waitFor(
      async () => (await curlStatus("b.localhost", port, ca)) === "502",
      "b.localhost",
      30_000,
    );
    assert.equal(await curlStatus("a.localhost", port, ca), "502");
    assert.equal(await Deno.readTextFile(ca), caPem, "the CA was replaced");
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await log;
    await Deno.remove(t.dir, { recursive: true });
  }
});

Deno.test("localhost names that container labels route join the development certificate", () => {
  const route = (section: "routes" | "tcp_routes", value: Record<string, unknown>) => ({
    section,
    value,
    labels: {},
  });
  const names = fragmentLocalhostNames([{
    container: "shop-1",
    items: [
      route("routes", { match: { host: ["Shop.localhost", "shop.example.com"] } }),
      route("tcp_routes", { sni: ["db.localhost"] }),
      route("tcp_routes", { sni: ["pass.localhost"], passthrough: true }),
      route("routes", { match: { host: ["shop.localhost"] } }),
    ],
    errors: [],
    warnings: [],
  }]);
  assert.deepEqual(names, ["shop.localhost", "db.localhost"]);
});
