/**
 * A whole Gatehouse with the Docker provider on, against a Docker API served on a unix socket
 * (proxy/testing/docker_api.ts) whose "containers" are real HTTP servers on loopback addresses.
 * The e2e tests (e2e/docker_labels_test.ts) do the same with the real engine.
 */
import assert from "node:assert/strict";
import { startGatehouse, type TestGatehouse } from "../testing/gatehouse.ts";
import { fakeDockerApi } from "../testing/docker_api.ts";
import { yaml } from "../testing/proxy.ts";
import { waitFor } from "../testing/servers.ts";
import { parseExposition, sampleValue } from "../testing/prometheus.ts";

/** An HTTP server standing for one replica: answers with its name; /slow waits for `release`. */
function replicaServer(hostname: string, port: number, name: string) {
  const release = Promise.withResolvers<void>();
  let slowStarted = 0;
  const server = Deno.serve({ hostname, port, onListen() {} }, async (req) => {
    if (new URL(req.url).pathname === "/slow") {
      slowStarted++;
      await release.promise;
    }
    return new Response(name);
  });
  return {
    port: (server.addr as Deno.NetAddr).port,
    release: () => release.resolve(),
    get slowStarted() {
      return slowStarted;
    },
    async close() {
      release.resolve();
      await server.shutdown();
    },
  };
}

/** fetch replaces Host unless told. */
const client = Deno.createHttpClient({ allowHost: true });

async function get(gh: TestGatehouse, host: string, path = "/") {
  const res = await fetch(`http://127.0.0.1:${gh.port()}${path}`, { headers: { host }, client });
  return { status: res.status, body: await res.text() };
}

async function status(gh: TestGatehouse) {
  return await (await fetch(gh.admin("/status"))).json();
}

const SHOP = (port: number) => ({
  "com.docker.compose.project": "demo",
  "com.docker.compose.service": "shop",
  "gatehouse.enable": "true",
  "gatehouse.http.routes.shop.host": "shop.test",
  "gatehouse.http.services.shop.port": String(port),
});

Deno.test("routes from container labels: appear, scale, drain on stop, bad labels, lost API", async (t) => {
  await using docker = await fakeDockerApi();
  const first = replicaServer("127.0.0.1", 0, "shop-1");
  const port = first.port;
  const more = [
    replicaServer("127.0.0.2", port, "shop-2"),
    replicaServer("127.0.0.3", port, "shop-3"),
  ];
  await using gh = await startGatehouse(
    yaml`
      entrypoints:
        web: { address: "127.0.0.1:0" }
      routes:
        - name: site
          match: { host: site.test }
          service: site
      services:
        site: { servers: ["http://127.0.0.1:${port}"] }
      admin: { address: "127.0.0.1:0" }
      docker: { enabled: true, endpoint: "${docker.endpoint}" }
    `,
    false,
  );
  try {
    const ids: string[] = [];

    await t.step("a labelled container appears and answers through Gatehouse", async () => {
      ids.push(
        docker.run({ name: "demo-shop-1", labels: SHOP(port), ip: "127.0.0.1", ports: [port] }),
      );
      await waitFor(async () => (await get(gh, "shop.test")).body === "shop-1", "the shop route");
      const doc = await status(gh);
      assert.equal(doc.docker.connected, true);
      assert.equal(doc.docker.engine, "20.10.24-fake (API 1.41)");
      assert.deepEqual(doc.docker.groups, [{
        group: "compose:demo/shop",
        containers: ["demo-shop-1"],
      }]);
      const shop = doc.routes.find((r: { name: string }) => r.name === "shop");
      assert.equal(shop.container, "demo-shop-1");
      assert.equal(doc.lastReload.reason, "docker");
    });

    await t.step(
      "three replicas are three servers of one service, each taking traffic",
      async () => {
        for (const [i, ip] of ["127.0.0.2", "127.0.0.3"].entries()) {
          ids.push(
            docker.run({ name: `demo-shop-${i + 2}`, labels: SHOP(port), ip, ports: [port] }),
          );
        }
        await waitFor(async () => {
          const svc = (await status(gh)).services.find((s: { name: string }) => s.name === "shop");
          return svc?.servers.length === 3;
        }, "three servers");
        const seen = new Set<string>();
        for (let i = 0; i < 6; i++) seen.add((await get(gh, "shop.test")).body);
        assert.deepEqual([...seen].sort(), ["shop-1", "shop-2", "shop-3"]);
      },
    );

    await t.step(
      "a stopped replica leaves rotation at SIGTERM and finishes its request",
      async () => {
        const target = more[1];
        // Send slow requests until one lands on shop-3 (round robin reaches it within three).
        const slow: Promise<{ status: number; body: string }>[] = [];
        while (target.slowStarted === 0) {
          slow.push(get(gh, "shop.test", "/slow"));
          await waitFor(
            () => more[1].slowStarted + more[0].slowStarted + first.slowStarted >= slow.length,
            "the slow request upstream",
          );
        }
        const exited = Promise.withResolvers<void>();
        const stopping = docker.stop(ids[2], exited.promise);
        await waitFor(async () => {
          const svc = (await status(gh)).services.find((s: { name: string }) => s.name === "shop");
          return svc?.servers.length === 2;
        }, "shop-3 to leave rotation");
        for (let i = 0; i < 4; i++) assert.notEqual((await get(gh, "shop.test")).body, "shop-3");
        for (const r of [first, ...more]) r.release();
        const answers = await Promise.all(slow);
        assert.ok(
          answers.some((a) => a.status === 200 && a.body === "shop-3"),
          JSON.stringify(answers),
        );
        exited.resolve();
        await stopping;
      },
    );

    await t.step(
      "a bad label is reported with its container and key; other routes serve",
      async () => {
        docker.run({
          name: "broken-1",
          labels: {
            "gatehouse.enable": "true",
            "gatehouse.http.routes.broken.hots": "broken.test",
          },
          ports: [port],
        });
        docker.run({
          name: "impostor-1",
          labels: { "gatehouse.enable": "true", "gatehouse.http.routes.site.host": "evil.test" },
          ports: [port],
        });
        await waitFor(
          async () => (await status(gh)).docker.errors.length === 2,
          "two label errors",
        );
        const doc = await status(gh);
        assert.deepEqual(doc.docker.errors, [
          `container "broken-1" label "gatehouse.http.routes.broken.hots": unknown key "hots" ` +
          `(did you mean "host"?) (known: host, path, case_sensitive, methods, entrypoints, middlewares, ` +
          `strip_prefix, forward_path, allow_encoded, service)`,
          `container "impostor-1" label "gatehouse.http.routes.site": duplicate route name "site" ` +
          `(also routes[0] at 4:11)`,
        ]);
        assert.deepEqual(doc.lastReload.labelErrors, doc.docker.errors);
        assert.equal((await get(gh, "site.test")).body, "shop-1");
        assert.equal((await get(gh, "evil.test")).status, 404);
        assert.notEqual((await get(gh, "shop.test")).status, 502);
        const metrics = await parseExposition(await (await fetch(gh.admin("/metrics"))).text());
        assert.equal(sampleValue(metrics, "gatehouse_docker_label_errors"), 2);
      },
    );

    await t.step(
      "a lost Docker API keeps the routes, and is followed again when back",
      async () => {
        await docker.down();
        await waitFor(async () => (await status(gh)).docker.connected === false, "the lost API");
        assert.match((await get(gh, "shop.test")).body, /^shop-[12]$/);
        const metrics = await parseExposition(await (await fetch(gh.admin("/metrics"))).text());
        assert.equal(sampleValue(metrics, "gatehouse_docker_connected"), 0);
        assert.ok(sampleValue(metrics, "gatehouse_docker_reconnects_total")! >= 1);
        docker.up();
        docker.run({
          name: "late-1",
          labels: { "gatehouse.enable": "true", "gatehouse.http.routes.late.host": "late.test" },
          ip: "127.0.0.1",
          ports: [port],
        });
        await waitFor(
          async () => (await get(gh, "late.test")).body === "shop-1",
          "late.test",
          15_000,
        );
        assert.equal((await status(gh)).docker.connected, true);
      },
    );

    assert.deepEqual(docker.refused, [], "nothing but GET was sent");
  } finally {
    await Promise.all([first, ...more].map((r) => r.close()));
  }
});
