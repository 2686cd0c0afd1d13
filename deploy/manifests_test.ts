/**
 * The deployment files agree with each other and with deno.json: the Dockerfile's base image
 * and ports, docker-compose.yml (compose and Swarm), the Kubernetes manifests, and the routes
 * of config/gatehouse.yaml and of the demo apps' labels. Kubernetes cannot run here, so its files are checked as data.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { loadConfigText } from "../proxy/config/mod.ts";
import { testPki } from "../proxy/testing/certs.ts";
import { container, loadWith, settings } from "../proxy/docker/test_helpers.ts";
import { V8_FLAGS_ARG } from "../proxy/internal/v8_flags.ts";

const read = (path: string) => Deno.readTextFile(new URL(`../${path}`, import.meta.url));

// deno-lint-ignore no-explicit-any
type Yaml = any;

/** Dockerfile instructions (continuation lines joined, comments dropped) per stage. */
async function dockerfile(path: string): Promise<{ op: string; args: string }[]> {
  const text = (await read(path)).replace(/\\\n/g, " ");
  return text.split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const [op, ...rest] = line.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(" ") };
    });
}

function instruction(lines: { op: string; args: string }[], op: string): string[] {
  return lines.filter((l) => l.op === op).map((l) => l.args);
}

async function manifests(): Promise<Yaml[]> {
  const docs: Yaml[] = [];
  for (const file of ["configmap.yaml", "deployment.yaml", "service.yaml"]) {
    for (const doc of parseAllDocuments(await read(`deploy/kubernetes/${file}`))) {
      assert.deepEqual(doc.errors, [], file);
      docs.push(doc.toJS());
    }
  }
  return docs;
}

const byKind = (docs: Yaml[], kind: string) => docs.filter((d) => d.kind === kind);

Deno.test("every Dockerfile builds FROM the official Deno image of deno.json's engines.deno", async () => {
  const { engines } = JSON.parse(await read("deno.json"));
  const expected = `denoland/deno:distroless-${engines.deno}`;
  for (const path of ["Dockerfile", "e2e/apps/Dockerfile", "deploy/socket-proxy/Dockerfile"]) {
    const froms = instruction(await dockerfile(path), "FROM").map((f) => f.split(" ")[0]);
    assert.ok(froms.length > 0, path);
    for (const from of froms) assert.equal(from, expected, path);
  }
  const labels = instruction(await dockerfile("Dockerfile"), "LABEL").join(" ");
  assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.base\\.name="${expected}"`));
  const script = await read("deploy/offline/build_base_image.sh");
  assert.match(script, /image="denoland\/deno:distroless-\$version"/);
});

Deno.test("the image runs as uid 1993 with /config and /certs volumes, not as root", async () => {
  const lines = await dockerfile("Dockerfile");
  const final = lines.slice(lines.findLastIndex((l) => l.op === "FROM"));
  assert.deepEqual(instruction(final, "USER"), ["1993:1993"]);
  assert.deepEqual(instruction(final, "VOLUME"), ['["/config", "/certs"]']);
  assert.deepEqual(instruction(final, "STOPSIGNAL"), ["SIGTERM"]);
  assert.match(instruction(final, "ENV").join(" "), /GATEHOUSE_CONFIG=\/config\/gatehouse\.yaml/);
  const entrypoint = JSON.parse(instruction(final, "ENTRYPOINT")[0]) as string[];
  assert.ok(!entrypoint.includes("-A") && !entrypoint.includes("--allow-all"));
  // Reads: the config, the certificates, the Docker socket, and /app (the modules of worker
  // isolates: `workers` and basic_auth's password worker).
  assert.ok(entrypoint.includes("--allow-read=/config,/certs,/var/run/docker.sock,/app"));
  assert.ok(entrypoint.includes("--allow-write=/certs,/var/run/docker.sock"));
  assert.ok(entrypoint.includes("--cached-only"));
  // FFI to the C library alone (TCP_NODELAY on TLS listeners), on amd64 and arm64.
  assert.ok(
    entrypoint.includes(
      "--allow-ffi=/lib/x86_64-linux-gnu/libc.so.6,/lib/aarch64-linux-gnu/libc.so.6",
    ),
  );
});

Deno.test("compose publishes the image's ports; the admin port only on 127.0.0.1", async () => {
  const exposed = instruction(await dockerfile("Dockerfile"), "EXPOSE").join(" ").split(" ");
  assert.deepEqual(exposed.map(Number), [8080, 8443, 7000, 9901]);
  const compose: Yaml = parse(await read("docker-compose.yml"), { merge: true });
  assert.equal(compose.version, "3.8");
  const gatehouse = compose.services.gatehouse;
  assert.deepEqual(gatehouse.ports.map((p: Yaml) => [p.target, p.mode]), [
    [8080, "host"],
    [8443, "host"],
    [7000, "host"],
  ]);
  assert.equal(gatehouse.environment.GATEHOUSE_ADMIN_ADDRESS, "0.0.0.0:9901");
  assert.deepEqual(gatehouse.volumes, ["./config:/config:ro", "certs:/certs"]);
  assert.ok("certs" in compose.volumes);
  const override: Yaml = parse(await read("docker-compose.override.yml"));
  assert.deepEqual(override.services.gatehouse.ports, [
    "127.0.0.1:${GATEHOUSE_ADMIN_PORT:-9901}:9901",
  ]);
});

Deno.test("compose deploys to Swarm: replicas, rolling updates, images named without build", async () => {
  const compose: Yaml = parse(await read("docker-compose.yml"), { merge: true });
  for (const [name, service] of Object.entries<Yaml>(compose.services)) {
    assert.match(
      service.image,
      /^gatehouse(-demo-[a-z]+|-socket-proxy)?:\$\{GATEHOUSE_TAG:-local\}$/,
      name,
    );
    assert.ok(service.deploy.replicas >= 1, name);
    assert.ok(service.deploy.update_config.parallelism >= 1, name);
  }
  assert.equal(compose.services.app.deploy.replicas, 2);
  assert.equal(compose.services.gatehouse.deploy.update_config.order, "stop-first");
});

Deno.test("compose routes the demo apps by their labels; echo by the file", async () => {
  const compose: Yaml = parse(await read("docker-compose.yml"), { merge: true });
  const config: Yaml = parse(await read("config/gatehouse.yaml"));
  const upstreams = Object.values<Yaml>(config.services).flatMap((s) => s.servers);
  assert.deepEqual(upstreams, ["tcp://echo:7000"]);
  assert.ok("echo" in compose.services);
  const exposed = instruction(await dockerfile("e2e/apps/Dockerfile"), "EXPOSE").join(" ");
  const ports = exposed.split(" ").map((p) => ({ port: Number(p), protocol: "tcp" }));
  const containers = ["app", "ws"].map((name) =>
    container(`gatehouse-${name}-1`, {
      "com.docker.compose.project": "gatehouse",
      "com.docker.compose.service": name,
      ...compose.services[name].labels,
    }, { ports })
  );
  const pki = await testPki();
  const dir = await Deno.makeTempDir();
  try {
    const text = (await read("config/gatehouse.yaml"))
      .replaceAll("../certs/localhost", "localhost")
      .replace("${GATEHOUSE_DOCKER:-false}", "true");
    const leaf = await pki.leaf("localhost");
    await Deno.writeTextFile(join(dir, "localhost.crt"), leaf.certPem);
    await Deno.writeTextFile(join(dir, "localhost.key"), leaf.keyPem);
    const loaded = await loadWith(text, containers, settings(), join(dir, "gatehouse.yaml"));
    assert.ok(loaded.ok && loaded.skipped.length === 0, JSON.stringify(loaded));
    assert.deepEqual(
      loaded.config.routes.map((r) => [r.name, r.match.hosts, r.service, r.pos.label?.container]),
      [
        ["welcome", [], "welcome@internal", undefined],
        ["demo-app", ["app.localhost"], "demo-app", "gatehouse-app-1"],
        ["demo-ws", ["ws.localhost"], "demo-ws", "gatehouse-ws-1"],
      ],
    );
    assert.deepEqual(loaded.config.services["demo-app"].servers.map((s) => s.port), [8000]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compose: only the GET-only socket proxy holds the Docker socket, on an internal network", async () => {
  const compose: Yaml = parse(await read("docker-compose.yml"), { merge: true });
  const { gatehouse, "docker-api": proxy } = compose.services;
  assert.equal(gatehouse.environment.GATEHOUSE_DOCKER, "true");
  assert.equal(gatehouse.environment.GATEHOUSE_DOCKER_ENDPOINT, "tcp://docker-api:2375");
  assert.ok(!gatehouse.volumes.some((v: string) => v.includes("docker.sock")));
  assert.deepEqual(proxy.volumes, ["/var/run/docker.sock:/var/run/docker.sock:ro"]);
  assert.deepEqual(proxy.networks, ["docker-api"]);
  assert.equal(proxy.ports, undefined, "the proxy's port is never published");
  assert.equal(compose.networks["docker-api"].internal, true);
  assert.equal(proxy.deploy.endpoint_mode, "dnsrr", "Swarm: reached at its task's address");
  const entrypoint = JSON.parse(
    instruction(await dockerfile("deploy/socket-proxy/Dockerfile"), "ENTRYPOINT")[0],
  ) as string[];
  assert.ok(entrypoint.includes("--allow-read=/var/run/docker.sock"));
  assert.ok(!entrypoint.includes("-A") && !entrypoint.includes("--allow-all"));
});

Deno.test("Kubernetes: the Deployment's ports, probes and user match the image", async () => {
  const docs = await manifests();
  const [deployment] = byKind(docs, "Deployment");
  const pod = deployment.spec.template.spec;
  const [container] = pod.containers;
  const ports = Object.fromEntries(container.ports.map((p: Yaml) => [p.name, p.containerPort]));
  assert.deepEqual(ports, { http: 8080, https: 8443, admin: 9901 });
  const exposed = instruction(await dockerfile("Dockerfile"), "EXPOSE").join(" ").split(" ");
  for (const port of Object.values(ports)) assert.ok(exposed.includes(String(port)));
  assert.deepEqual(container.livenessProbe.httpGet, { path: "/healthz", port: "admin" });
  assert.deepEqual(container.startupProbe.httpGet, { path: "/healthz", port: "admin" });
  assert.deepEqual(container.readinessProbe.httpGet, { path: "/readyz", port: "admin" });
  assert.deepEqual(container.env, [{ name: "GATEHOUSE_ADMIN_ADDRESS", value: "0.0.0.0:9901" }]);
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(pod.securityContext.runAsUser, 1993);
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  assert.equal(container.securityContext.allowPrivilegeEscalation, false);
  assert.ok(container.resources.requests.cpu && container.resources.limits.memory);
  assert.deepEqual(
    container.volumeMounts.map((m: Yaml) => [m.mountPath, m.readOnly, m.subPath]),
    [["/config", true, undefined], ["/certs", true, undefined]],
  );
  const labels = deployment.spec.template.metadata.labels;
  assert.deepEqual(deployment.spec.selector.matchLabels, labels);
  for (const service of byKind(docs, "Service")) {
    assert.deepEqual(service.spec.selector, labels);
    for (const port of service.spec.ports) assert.ok(port.targetPort in ports, port.targetPort);
  }
  const [configMap] = byKind(docs, "ConfigMap");
  const volumes = Object.fromEntries(pod.volumes.map((v: Yaml) => [v.name, v]));
  assert.equal(volumes.config.configMap.name, configMap.metadata.name);
  assert.equal(volumes.certs.secret.secretName, "gatehouse-tls");
  const kustomization: Yaml = parse(await read("deploy/kubernetes/kustomization.yaml"));
  assert.deepEqual(kustomization.resources, ["configmap.yaml", "deployment.yaml", "service.yaml"]);
});

Deno.test("Kubernetes: the ConfigMap's routing file loads with a TLS Secret's files", async () => {
  const docs = await manifests();
  const text = byKind(docs, "ConfigMap")[0].data["gatehouse.yaml"];
  const pki = await testPki();
  const leaf = await pki.leaf("example.com");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dir, "certs"));
    await Deno.writeTextFile(join(dir, "certs", "tls.crt"), leaf.certPem);
    await Deno.writeTextFile(join(dir, "certs", "tls.key"), leaf.keyPem);
    const loaded = await loadConfigText(text, join(dir, "config", "gatehouse.yaml"));
    assert.ok(loaded.ok, JSON.stringify(loaded.ok ? [] : loaded.errors));
    const [deployment] = byKind(docs, "Deployment");
    const grace = deployment.spec.template.spec.terminationGracePeriodSeconds * 1000;
    const preStop = deployment.spec.template.spec.containers[0].lifecycle.preStop.sleep.seconds;
    assert.ok(loaded.config.timeouts.drain + preStop * 1000 < grace);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the offline seed installs the npm packages of the same modules as the image's dependency stage", async () => {
  const run = (await dockerfile("Dockerfile")).find((i) =>
    i.op === "RUN" && i.args.includes("build_deps.ts")
  );
  assert.ok(run, "the Dockerfile runs build_deps.ts");
  const modules = (args: string) =>
    args.match(/[\w/.-]+\.ts/g)!.filter((m) => m !== "build_deps.ts");
  const seed = (await read("deploy/offline/seed_node_modules.sh")).replace(/\\\n/g, " ");
  const line = seed.split("\n").find((l) => l.includes("build_deps.ts"));
  assert.ok(line, "the seed script runs build_deps.ts");
  assert.deepEqual(
    modules(line.replace(/.*build_deps\.ts"?/, "")).sort(),
    modules(JSON.parse(run.args).join(" ")).sort(),
  );
});

/** Environment the image and `deno task start` both set, and why. */
const RUNTIME_ENV = [
  // docs/runtime.md, section 1: without it a single isolate's p99 at wrk -c500 is seconds.
  { setting: "DENO_TOKIO_MAX_IO_EVENTS_PER_TICK=32", why: "32 socket wake-ups per turn" },
  // Without it Deno sizes each isolate's heap by the host's memory (4 GiB of heap on this 24 GiB
  // machine inside a 512 MiB cgroup; 268 MiB with it): a container is killed before V8 collects.
  { setting: "DENO_USE_CGROUPS=1", why: "V8's heap sized by a memory limit" },
  // Without it each `deno run` (a start, the image's health check) looks up and asks dl.deno.land
  // for Deno's latest version (cli/tools/upgrade.rs); seen with strace on a start.
  { setting: "DENO_NO_UPDATE_CHECK=1", why: "no request to dl.deno.land" },
];

for (const { setting, why } of RUNTIME_ENV) {
  Deno.test(`the image and \`deno task start\` set ${setting} (${why})`, async () => {
    const env = instruction(await dockerfile("Dockerfile"), "ENV").join(" ").split(/\s+/);
    assert.ok(env.includes(setting), `the image's ENV sets ${setting}`);
    const tasks = JSON.parse(await read("deno.json")).tasks;
    assert.ok(envOf(tasks.start.command).includes(setting), tasks.start.command);
  });
}

/** The `NAME=value` words a task command starts with, before `deno run`. */
function envOf(command: string): string[] {
  const at = command.indexOf(" deno run ");
  assert.ok(at > 0, `"${command}" does not run deno after its environment`);
  return command.slice(0, at).split(" ");
}

Deno.test("the image and `deno task start` run Gatehouse with its V8 flags", async () => {
  // proxy/internal/v8_flags.ts: without them requests under load are promoted (~10% more CPU).
  const [entrypoint] = instruction(await dockerfile("Dockerfile"), "ENTRYPOINT");
  assert.ok(JSON.parse(entrypoint).includes(V8_FLAGS_ARG), `the ENTRYPOINT lacks ${V8_FLAGS_ARG}`);
  const tasks = JSON.parse(await read("deno.json")).tasks;
  assert.ok(tasks.start.command.includes(` ${V8_FLAGS_ARG} `), tasks.start.command);
});
