/**
 * Routes from Docker labels with the real engine: the Gatehouse image reads the Docker API
 * through the GET-only socket proxy (deploy/socket-proxy), which shares only an internal
 * network with it as in docker-compose.yml, and routes app containers started by
 * testcontainers and docker-compose on a network they share. Every container, network and image
 * is named gh-i21-... or tagged with the run's tag, and removed at the end. The engine itself is
 * never restarted (other tests may be using it): "the Docker API restarts" is the socket proxy,
 * the API endpoint Gatehouse talks to, going away and coming back.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { GenericContainer, type StartedTestContainer, Wait } from "./support/containers.ts";
import { parseExposition } from "../proxy/testing/prometheus.ts";
import {
  buildImages,
  composeCommand,
  docker,
  dockerTest,
  eventually,
  REPO,
  run,
  runTag,
} from "./support/docker.ts";

const client = Deno.createHttpClient({ allowHost: true });

// deno-lint-ignore no-explicit-any
type Json = any;

dockerTest("routes from Docker labels, with the real engine behind a GET-only socket proxy", async (
  t,
  stack,
  root,
) => {
  const tag = `gh-i21-${runTag()}`;
  const images = await buildImages(tag, ["gatehouse", "http", "socketProxy"]);
  stack.use(images);
  const net = `${tag}-net`;
  // As in docker-compose.yml: the socket proxy alone on an internal network with Gatehouse.
  const apiNet = `${tag}-api`;
  await docker("network", "create", net);
  await docker("network", "create", "--internal", apiNet);
  stack.defer(async () => {
    await run("docker", ["network", "rm", net, apiNet], { check: false });
  });
  const started: StartedTestContainer[] = [];
  stack.defer(async () => {
    for (const c of started.reverse()) await c.stop().catch(() => {});
  });

  const proxyName = `${tag}-docker-api`;
  started.push(
    await new GenericContainer(images.socketProxy)
      .withName(proxyName)
      .withNetworkMode(apiNet)
      .withNetworkAliases("docker-api")
      .withBindMounts([{ source: "/var/run/docker.sock", target: "/var/run/docker.sock" }])
      .withWaitStrategy(Wait.forLogMessage(/"listening":2375/))
      .start(),
  );

  await Deno.mkdir(join(root, "config"), { mode: 0o755 });
  await Deno.mkdir(join(root, "certs"), { mode: 0o755 });
  await Deno.chmod(root, 0o755);
  await Deno.writeTextFile(
    join(root, "config", "gatehouse.yaml"),
    [
      "entrypoints:",
      '  web: { address: ":8080" }',
      "routes:",
      "  - { name: site, match: { host: site.test }, service: welcome@internal }",
      "docker:",
      "  enabled: true",
      "  endpoint: tcp://docker-api:2375",
      `  network: ${net}`,
      "  traefik_labels: true",
      "admin: { address: 0.0.0.0:9901 }",
      "",
    ].join("\n"),
  );
  const logs: string[] = [];
  const gatehouse = await new GenericContainer(images.gatehouse)
    .withName(`${tag}-gatehouse`)
    .withNetworkMode(net)
    .withBindMounts([
      { source: join(root, "config"), target: "/config", mode: "ro" },
      { source: join(root, "certs"), target: "/certs", mode: "ro" },
    ])
    .withCommand(["--config", "/config/gatehouse.yaml"])
    .withExposedPorts(8080, 9901)
    .withLogConsumer((stream) => stream.on("data", (line) => logs.push(String(line))))
    .withWaitStrategy(Wait.forHttp("/readyz", 9901).forStatusCode(200))
    .withStartupTimeout(30_000)
    .start()
    .catch((error) => {
      throw new Error(`${error.message}; the container logged:\n${logs.join("")}`);
    });
  started.push(gatehouse);
  await docker("network", "connect", apiNet, gatehouse.getId());
  const web = `http://127.0.0.1:${gatehouse.getMappedPort(8080)}`;
  const admin = `http://127.0.0.1:${gatehouse.getMappedPort(9901)}`;
  /** A step whose failure also shows Gatehouse's last log lines (what it saw of the Docker API). */
  const step = (name: string, fn: () => Promise<void>) =>
    t.step(name, async () => {
      try {
        await fn();
      } catch (error) {
        const tail = logs.join("").trimEnd().split("\n").slice(-40).join("\n");
        throw new Error(`${(error as Error).message}\nGatehouse's last log lines:\n${tail}`);
      }
    });
  const get = async (host: string, path = "/") => {
    const res = await fetch(`${web}${path}`, { headers: { host }, client });
    const body = await res.text();
    return { status: res.status, body, json: () => JSON.parse(body) };
  };
  const status = async (): Promise<Json> => await (await fetch(`${admin}/status`)).json();
  const serversOf = async (service: string): Promise<string[]> =>
    ((await status()).services.find((s: Json) => s.name === service)?.servers ?? [])
      .map((s: Json) => s.url);
  const app = (name: string, labels: Record<string, string>) =>
    new GenericContainer(images.http)
      .withName(`${tag}-${name}`)
      .withNetworkMode(net)
      .withEnvironment({ APP_NAME: name })
      .withLabels({ "gatehouse.enable": "true", ...labels })
      .withWaitStrategy(Wait.forLogMessage(/listening on/))
      .start();
  const [command, ...prefix] = await composeCommand();
  const compose = (project: string, file: string, ...args: string[]) =>
    run(command, [...prefix, "--project-name", project, "--file", file, ...args], {
      env: { APP_IMAGE: images.http, GH_NETWORK: net },
      cwd: REPO,
    });
  for (const project of ["scaled", "traefik"]) {
    stack.defer(async () => {
      await compose(`${tag}-${project}`, `e2e/docker_labels/${project}.yml`, "down").catch(
        () => {},
      );
    });
  }

  await step(
    "a labelled app appears soon after its start and answers through Gatehouse",
    async () => {
      const hello = await app("hello", {
        "gatehouse.http.routes.hello.host": "hello.test",
        "gatehouse.http.services.hello.port": "8000",
      });
      started.push(hello);
      const startedAt = Date.parse(
        await docker("inspect", "--format", "{{.State.StartedAt}}", hello.getId()),
      );
      const answer = await eventually(
        "hello.test",
        async () => {
          const r = await get("hello.test");
          return r.status === 200 && r.json();
        },
        30_000,
        50,
      );
      console.log(`hello.test answered ${Date.now() - startedAt} ms after the container started`);
      assert.equal(answer.app, "hello");
      const doc = await status();
      assert.equal(doc.docker.connected, true);
      assert.equal(doc.docker.endpoint, "tcp://docker-api:2375");
      assert.equal(doc.routes.find((r: Json) => r.name === "hello").container, `${tag}-hello`);
    },
  );

  await step("--scale app=3: three servers of one service, each taking traffic", async () => {
    const project = `${tag}-scaled`;
    await compose(project, "e2e/docker_labels/scaled.yml", "up", "--detach", "--scale", "app=3");
    await eventually("three servers", async () => (await serversOf("scaled")).length === 3);
    // They are routed from their start, before their health check has run: requests sent before
    // a replica listens would be retried on another but count as its failures, and enough of
    // them take it out of rotation for a while (passive health). Wait until all three listen.
    const file = "e2e/docker_labels/scaled.yml";
    const ids = (await compose(project, file, "ps", "-q", "app")).stdout.trim().split("\n");
    assert.equal(ids.length, 3);
    await eventually("the three replicas to listen", async () => {
      for (const id of ids) {
        if (!(await run("docker", ["logs", id])).stdout.includes("listening on")) return false;
      }
      return true;
    });
    const hostnames = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const answer = await get("scaled.test");
      assert.equal(answer.status, 200, answer.body);
      hostnames.add(answer.json().hostname);
    }
    assert.equal(hostnames.size, 3, [...hostnames].join(", "));
  });

  await step("a recreated container with a new IP is followed", async () => {
    const labels = {
      "gatehouse.http.routes.moving.host": "moving.test",
      "gatehouse.http.services.moving.port": "8000",
    };
    const first = await app("moving", labels);
    const before = first.getIpAddress(net);
    await eventually("moving.test", async () => (await get("moving.test")).status === 200);
    await first.stop();
    // Something else takes the address the old container had.
    const squatter = await new GenericContainer(images.http)
      .withName(`${tag}-squatter`)
      .withNetworkMode(net)
      .withWaitStrategy(Wait.forLogMessage(/listening on/))
      .start();
    started.push(squatter);
    const second = await app("moving", labels);
    started.push(second);
    const after = second.getIpAddress(net);
    assert.notEqual(after, before);
    await eventually(
      "the new address",
      async () => (await serversOf("moving")).join() === `http://${after}:8000`,
    );
    const answer = (await get("moving.test")).json();
    assert.equal(
      answer.hostname,
      await docker("inspect", "--format", "{{.Config.Hostname}}", second.getId()),
    );
  });

  await step(
    "docker stop: out of rotation at SIGTERM, its request in flight still answered",
    async () => {
      const drain = await app("drain", {
        "gatehouse.http.routes.drain.host": "drain.test",
        "gatehouse.http.services.drain.port": "8000",
      });
      started.push(drain);
      await eventually("drain.test", async () => (await get("drain.test")).status === 200);
      const slow = get("drain.test", "/slow?ms=8000");
      await eventually("the slow request upstream", async () => {
        const svc = (await status()).services.find((s: Json) => s.name === "drain");
        return svc?.servers[0]?.inflight === 1;
      });
      const stopping = docker("stop", "--time", "30", drain.getId());
      await eventually("drain.test to leave the routes", async () => {
        const routes = (await status()).routes.map((r: Json) => r.name);
        return !routes.includes("drain");
      });
      const state = await docker("inspect", "--format", "{{.State.Running}}", drain.getId());
      assert.equal(state, "true", "it left while the container was still finishing its request");
      assert.equal((await get("drain.test")).status, 404);
      const answer = await slow;
      assert.deepEqual([answer.status, answer.json().sleptMs], [200, 8000]);
      await stopping;
    },
  );

  await step(
    "a bad label is reported with its container and key; other routes serve",
    async () => {
      started.push(
        await app("bad", {
          "gatehouse.http.routes.bad.hots": "bad.test",
          "gatehouse.http.services.bad.port": "8000",
        }),
      );
      const expected = `container "${tag}-bad" label "gatehouse.http.routes.bad.hots": unknown ` +
        `key "hots" (did you mean "host"?) (known: host, path, case_sensitive, methods, ` +
        `entrypoints, middlewares, strip_prefix, forward_path, allow_encoded, service)`;
      await eventually(
        "the label error",
        async () => (await status()).docker.errors.includes(expected),
      );
      // The container's log stream reaches the test a moment after /status has the error.
      await eventually(
        "the label error's log line",
        () => Promise.resolve(logs.join("").includes(expected.replaceAll('"', '\\"'))),
      );
      assert.equal((await get("hello.test")).status, 200);
      assert.equal((await get("scaled.test")).status, 200);
    },
  );

  await step(
    "a Traefik-labelled compose file works unchanged with traefik_labels on",
    async () => {
      const project = `${tag}-traefik`;
      await compose(project, "e2e/docker_labels/traefik.yml", "up", "--detach");
      const root = await eventually("whoami.test", async () => {
        const r = await get("whoami.test");
        return r.status === 200 && r.json();
      });
      assert.deepEqual([root.app, root.path], ["whoami", "/"]);
      assert.equal((await get("who.test")).json().app, "whoami");
      assert.equal((await get("whoami.test", "/api/time")).json().path, "/time", "prefix stripped");
    },
  );

  await step(
    "the Docker API going away keeps the routes; it is followed again on return",
    async () => {
      await docker("stop", proxyName);
      await eventually(
        "the lost connection",
        async () => (await status()).docker.connected === false,
      );
      assert.equal((await get("hello.test")).status, 200);
      assert.equal((await get("scaled.test")).status, 200);
      started.push(
        await app("late", {
          "gatehouse.http.routes.late.host": "late.test",
          "gatehouse.http.services.late.port": "8000",
        }),
      );
      await docker("start", proxyName);
      await eventually("late.test", async () => (await get("late.test")).status === 200, 60_000);
      const doc = await status();
      assert.equal(doc.docker.connected, true);
      assert.ok(doc.docker.reconnects >= 1);
      const samples = await parseExposition(await (await fetch(`${admin}/metrics`)).text());
      const value = (name: string) => samples.find((s) => s.name === name)?.value;
      assert.equal(value("gatehouse_docker_connected"), 1);
      assert.ok(value("gatehouse_docker_reconnects_total")! >= 1);
    },
  );

  await step(
    "Gatehouse sent the socket proxy GET requests only; the proxy refuses others",
    async () => {
      const proxyLogs = (await run("docker", ["logs", proxyName])).stdout;
      assert.doesNotMatch(proxyLogs, /"refused"/);
      assert.doesNotMatch(proxyLogs, /"error"/, "every request reached the engine");
      const post = await run("docker", [
        "exec",
        gatehouse.getId(),
        "deno",
        "eval",
        "--no-config",
        "const r = await fetch('http://docker-api:2375/containers/create', " +
        "{ method: 'POST', body: '{}' }); console.log(r.status, (await r.json()).message);",
      ]);
      assert.equal(
        post.stdout.trim(),
        "403 Cannot POST /containers/create: this socket proxy forwards GET only",
      );
      assert.match(
        (await run("docker", ["logs", proxyName])).stdout,
        /"refused":"POST \/containers\/create"/,
      );
    },
  );
});
