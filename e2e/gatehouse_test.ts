/**
 * The Gatehouse image in front of demo app containers on a user-defined network, checked from
 * the host through the published ports only. Builds the images from this checkout and removes
 * every container, network, image and file it made.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { brotliDecompressSync, gunzipSync, zstdDecompressSync } from "node:zlib";
import {
  GenericContainer,
  Network,
  type StartedNetwork,
  type StartedTestContainer,
  Wait,
} from "./support/containers.ts";
import { parseExposition } from "../proxy/testing/prometheus.ts";
import { downloadStream } from "./apps/download.ts";
import {
  curl,
  https,
  httpsDigest,
  httpsJson,
  httpsRaw,
  sha256Of,
  tcpEcho,
  websocketEcho,
} from "./support/client.ts";
import {
  buildImages,
  docker,
  dockerTest,
  eventually,
  REPO,
  run,
  runTag,
} from "./support/docker.ts";

const CONFIG = `
entrypoints:
  web:
    address: ":8080"
    redirect: { to: websecure }
  websecure:
    address: ":8443"
    tls:
      certificates:
        - name: local
          cert: ../certs/local/localhost.crt
          key: ../certs/local/localhost.key
          hosts: [app.localhost, ws.localhost, slow.localhost, reload.localhost]
        - name: api
          cert: ../certs/api/localhost.crt
          key: ../certs/api/localhost.key
          hosts: [api.test]
  echo:
    address: ":7000"
    protocol: tcp
routes:
  - { name: app-a, match: { host: app.localhost }, service: a }
  - { name: app-b, match: { host: app.localhost, path: /b }, service: b, strip_prefix: true }
  - { name: api, match: { host: api.test }, service: a }
  - { name: ws, match: { host: ws.localhost }, service: ws }
  - { name: slow, match: { host: slow.localhost }, service: slow }
tcp_routes:
  - { name: echo, entrypoints: [echo], service: echo }
services:
  echo: { servers: ["tcp://echo:7000"] }
  a: { servers: ["http://app-a:8000"] }
  b: { servers: ["http://app-b:8000"] }
  ws: { servers: ["http://ws:8000"] }
  slow: { servers: ["http://app-a:8000"] }
admin:
  address: 0.0.0.0:9901
`;

const RELOADED = CONFIG.replace(
  "routes:\n",
  "routes:\n  - { name: reloaded, match: { host: reload.localhost }, service: b }\n",
);

const MiB = 1024 * 1024;

/** Writes `text` to `path` the way editors save: a new file renamed over the old one. */
async function saveFile(path: string, text: string): Promise<void> {
  await Deno.writeTextFile(`${path}.tmp`, text, { mode: 0o644 });
  await Deno.rename(`${path}.tmp`, path);
}

/**
 * A config dir and a certs dir the container's non-root user can read, with two certificates
 * from `deno task certs` (each with its own development CA): one for the *.localhost names of
 * the routes, one for api.test. Returns the file with both CAs.
 */
async function configTree(root: string): Promise<{ caFile: string; caPem: string }> {
  const sets = {
    local: "app.localhost,ws.localhost,slow.localhost,reload.localhost",
    api: "api.test",
  };
  let caPem = "";
  for (const [name, hosts] of Object.entries(sets)) {
    const dir = join(root, "certs", name);
    await run(Deno.execPath(), [
      "run",
      `--allow-read=${dir}`,
      `--allow-write=${dir}`,
      "certs/mkcert.ts",
      "--dir",
      dir,
      "--hosts",
      hosts,
    ], { cwd: REPO });
    await Deno.chmod(join(dir, "localhost.key"), 0o644);
    caPem += await Deno.readTextFile(join(dir, "gatehouse-dev-ca.crt"));
  }
  await Deno.mkdir(join(root, "config"), { mode: 0o755 });
  await Deno.chmod(root, 0o755);
  const caFile = join(root, "ca.crt");
  await Deno.writeTextFile(caFile, caPem);
  await saveFile(join(root, "config", "gatehouse.yaml"), CONFIG);
  return { caFile, caPem };
}

function app(
  image: string,
  network: StartedNetwork,
  alias: string,
  name: string,
): Promise<StartedTestContainer> {
  return new GenericContainer(image)
    .withNetwork(network)
    .withNetworkAliases(alias)
    .withEnvironment({ APP_NAME: name })
    .withWaitStrategy(Wait.forLogMessage(/listening on/))
    .start();
}

/** Sum of the samples named `name` whose labels include `labels`. */
function total(
  samples: Awaited<ReturnType<typeof parseExposition>>,
  name: string,
  labels: Record<string, string>,
): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

dockerTest("the Gatehouse container in front of app containers", async (t, stack, root) => {
  const images = await buildImages(runTag(), ["gatehouse", "http", "ws", "tcp"]);
  stack.use(images);
  const network = await new Network().start();
  stack.use(network);
  const started: StartedTestContainer[] = [];
  stack.defer(async () => {
    for (const container of started.reverse()) await container.stop().catch(() => {});
  });

  const { caFile, caPem } = await configTree(root);
  started.push(await app(images.http, network, "app-a", "a"));
  let appB = await app(images.http, network, "app-b", "b");
  started.push(appB);
  started.push(await app(images.ws, network, "ws", "ws"));
  started.push(await app(images.tcp, network, "echo", "echo"));
  const logs: string[] = [];
  const gatehouse = await new GenericContainer(images.gatehouse)
    .withNetwork(network)
    .withBindMounts([
      { source: join(root, "config"), target: "/config", mode: "ro" },
      { source: join(root, "certs"), target: "/certs", mode: "ro" },
    ])
    .withCommand(["--config", "/config/gatehouse.yaml"])
    .withExposedPorts(8080, 8443, 7000, 9901)
    .withResourcesQuota({ memory: 1 })
    .withLogConsumer((stream) => stream.on("data", (line) => logs.push(String(line))))
    .withWaitStrategy(Wait.forHttp("/readyz", 9901).forStatusCode(200))
    .withStartupTimeout(30_000)
    .start()
    .catch((error) => {
      throw new Error(`${error.message}; the container logged:\n${logs.join("")}`);
    });
  started.push(gatehouse);
  const id = gatehouse.getId();
  const startedAt = await docker("inspect", "--format", "{{.State.StartedAt}}", id);
  const port = gatehouse.getMappedPort(8443);
  const admin = `http://127.0.0.1:${gatehouse.getMappedPort(9901)}`;
  const target = (host: string, http: "1.1" | "2" = "2") => ({ host, port, caFile, http });

  await t.step(
    "the container's memory limit bounds its connections (max_connections: auto)",
    () => {
      assert.match(
        logs.join(""),
        /limits auto: at most \d+ client connections \(64 KiB each\) and \d+ requests in flight \(128 KiB each\) within the memory limit of 1024 MiB \(cgroup v[12] /,
      );
    },
  );

  await t.step("TLS: SNI picks the certificate; ALPN offers h2 and http/1.1", async () => {
    for (const http of ["2", "1.1"] as const) {
      const local = await https(target("app.localhost", http), "/api/time");
      assert.deepEqual([local.status, local.httpVersion], [200, http]);
      const api = await https(target("api.test", http), "/api/time");
      assert.deepEqual([api.status, api.httpVersion], [200, http]);
    }
    await assert.rejects(
      https({ ...target("app.localhost"), host: "unknown.test" }, "/"),
      /no alternative certificate subject name|does not match/,
    );
  });

  await t.step("routes by host and path to two upstream containers", async () => {
    const a = await httpsJson(target("app.localhost"), "/api/time");
    const b = await httpsJson(target("app.localhost"), "/b/api/time");
    assert.equal(a.app, "a");
    assert.equal(b.app, "b");
    assert.notEqual(a.hostname, b.hostname);
    const headers = await httpsJson<Record<string, string>>(target("app.localhost"), "/headers");
    assert.equal(headers["x-forwarded-proto"], "https");
    assert.equal(headers.host, `app.localhost:${port}`);
  });

  await t.step("a 100 MiB download arrives intact over HTTP/2 and HTTP/1.1", async () => {
    const expected = await sha256Of(downloadStream(100 * MiB));
    for (const http of ["2", "1.1"] as const) {
      const got = await httpsDigest(target("app.localhost", http), `/download/${100 * MiB}`);
      assert.deepEqual([got.status, got.httpVersion, got.bytes], [200, http, 100 * MiB]);
      assert.equal(got.sha256, expected);
    }
  });

  await t.step("WebSocket messages echo through the upgrade tunnel", async () => {
    const binary = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 251);
    const echoed = await websocketEcho(port, "ws.localhost", caPem, ["hello", binary, "bye"]);
    assert.deepEqual(echoed, ["hello", binary, "bye"]);
  });

  await t.step("TCP bytes echo through a tcp entrypoint, half-close included", async () => {
    const sent = Uint8Array.from({ length: 3 * MiB }, (_, i) => (i * 31) % 253);
    const received = await tcpEcho(gatehouse.getMappedPort(7000), sent);
    assert.equal(received.length, sent.length);
    assert.deepEqual(received, sent);
  });

  await t.step("responses are compressed with the codec the client asks for", async () => {
    const json = JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ i, app: "gatehouse" })));
    const file = join(root, "body.json");
    await Deno.writeTextFile(file, json);
    const post = ["--data-binary", `@${file}`, "--header", "Content-Type: application/json"];
    const decode = {
      zstd: zstdDecompressSync,
      br: brotliDecompressSync,
      gzip: gunzipSync,
    };
    for (const [coding, inflate] of Object.entries(decode)) {
      const answer = await httpsRaw(target("app.localhost"), "/api/echo", [
        ...post,
        "--header",
        `Accept-Encoding: ${coding}`,
      ]);
      assert.equal(answer.status, 200);
      assert.equal(answer.headers.get("content-encoding"), coding);
      assert.match(answer.headers.get("vary") ?? "", /accept-encoding/i);
      assert.ok(answer.body.length < json.length / 4, `${coding}: ${answer.body.length} bytes`);
      assert.equal(new TextDecoder().decode(inflate(answer.body)), json);
    }
    const plain = await httpsRaw(target("app.localhost"), "/api/echo", post);
    assert.equal(plain.headers.get("content-encoding"), null);
    assert.equal(new TextDecoder().decode(plain.body), json);
  });

  await t.step("plain HTTP redirects to HTTPS on 443 when the Host has no port", async () => {
    const answer = await curl([
      "--silent",
      "--header",
      "Host: app.localhost",
      `http://127.0.0.1:${gatehouse.getMappedPort(8080)}/api/time?x=1`,
    ]);
    assert.deepEqual([answer.status, answer.location], [308, "https://app.localhost/api/time?x=1"]);
  });

  await t.step("/metrics on the admin port counts the requests by route", async () => {
    for (let i = 0; i < 3; i++) await httpsJson(target("app.localhost"), "/api/time");
    const scraped = await curl(["--silent", `${admin}/metrics`]);
    assert.equal(scraped.status, 200);
    const samples = await parseExposition(scraped.body);
    const name = "gatehouse_router_requests_total";
    assert.ok(total(samples, name, { router: "app-a", service: "a", code: "200" }) >= 3);
    assert.ok(total(samples, name, { router: "app-b", service: "b", code: "200" }) >= 1);
    assert.ok(total(samples, "gatehouse_websocket_sessions_total", { router: "ws" }) >= 1);
  });

  await t.step("writing the mounted config file reloads it", async () => {
    assert.equal((await https(target("reload.localhost"), "/")).status, 404);
    await saveFile(join(root, "config", "gatehouse.yaml"), RELOADED);
    const answer = await eventually("the new route", async () => {
      const result = await https(target("reload.localhost"), "/api/time");
      return result.status === 200 && JSON.parse(result.body);
    }, 15_000);
    assert.equal(answer.app, "b");
  });

  await t.step("an upstream recreated with a new IP is reached without a restart", async () => {
    const oldIp = appB.getIpAddress(network.getName());
    const replacement = await app(images.http, network, "app-b", "b2");
    started.push(replacement);
    assert.notEqual(replacement.getIpAddress(network.getName()), oldIp);
    await appB.stop();
    appB = replacement;
    const answer = await eventually("app-b's replacement", async () => {
      const result = await https(target("app.localhost"), "/b/api/time");
      return result.status === 200 && JSON.parse(result.body).app === "b2";
    }, 45_000);
    assert.ok(answer);
    assert.equal(await docker("inspect", "--format", "{{.State.StartedAt}}", id), startedAt);
  });

  await t.step("the image's HEALTHCHECK reports healthy", async () => {
    const health = await eventually(
      "a healthy status",
      async () => {
        const status = await docker("inspect", "--format", "{{.State.Health.Status}}", id);
        return status !== "starting" && status;
      },
      40_000,
      1000,
    );
    assert.equal(health, "healthy");
  });

  await t.step("SIGTERM drains in-flight HTTP/2 and HTTP/1.1 requests, then exits 0", async () => {
    const slow = (["2", "1.1"] as const).map((http) => {
      return https(target("slow.localhost", http), "/slow?ms=3000");
    });
    await eventually(
      "both slow requests to reach the upstream",
      async () => {
        const samples = await parseExposition((await curl(["--silent", `${admin}/metrics`])).body);
        return total(samples, "gatehouse_service_open_connections", { service: "slow" }) >= 2;
      },
      10_000,
      100,
    );
    const stopped = docker("stop", "--time", "30", id);
    for (const [i, answer] of (await Promise.all(slow)).entries()) {
      assert.deepEqual([answer.status, answer.httpVersion], [200, ["2", "1.1"][i]]);
      assert.equal(JSON.parse(answer.body).sleptMs, 3000);
    }
    await stopped;
    assert.equal(await docker("inspect", "--format", "{{.State.ExitCode}}", id), "0");
  });
});
