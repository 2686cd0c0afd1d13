import assert from "node:assert/strict";
import type { ConfigFragment } from "../config/fragments.ts";
import { parseDockerEndpoint } from "../config/schema_docker.ts";
import type { DockerEndpoint } from "../config/types.ts";
import { fakeDockerApi } from "../testing/docker_api.ts";
import { waitFor } from "../testing/servers.ts";
import { DockerProvider } from "./provider.ts";
import { settings } from "./test_helpers.ts";

function endpointOf(text: string): DockerEndpoint {
  return parseDockerEndpoint(text) as DockerEndpoint;
}

const labels = (route: string) => ({
  "gatehouse.enable": "true",
  [`gatehouse.http.routes.${route}.host`]: `${route}.test`,
});

/** The servers of each service in `fragments`, by service name. */
function servers(fragments: readonly ConfigFragment[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fragments) {
    for (const item of f.items) {
      if (item.section === "services") out[item.key!] = item.value.servers;
    }
  }
  return out;
}

async function providerFor(endpoint: string) {
  const changes: (readonly ConfigFragment[])[] = [];
  const provider = new DockerProvider({
    settings: settings({ endpoint: endpointOf(endpoint), endpointText: endpoint }),
    file: "gatehouse.yaml",
    onChange: (fragments) => changes.push(fragments),
  });
  provider.start();
  await provider.firstSync(10_000);
  return { provider, changes, [Symbol.asyncDispose]: () => provider.stop() };
}

Deno.test("lists labelled containers, then follows starts and stops; a stopping one leaves at once", async () => {
  await using docker = await fakeDockerApi();
  const web = docker.run({ name: "web-1", labels: labels("web"), ip: "10.0.0.2" });
  docker.run({ name: "plain-1", labels: {}, ip: "10.0.0.9" });
  await using p = await providerFor(docker.endpoint);
  assert.deepEqual(servers(p.provider.fragments), { "web-1": ["http://10.0.0.2:8000"] });
  assert.equal(p.changes.length, 1);
  const status = p.provider.status();
  assert.equal(status.connected, true);
  assert.equal(status.engine, "20.10.24-fake (API 1.41)");
  assert.deepEqual(status.groups, [{ group: "container:web-1", containers: ["web-1"] }]);

  docker.run({ name: "api-1", labels: labels("api"), ip: "10.0.0.3" });
  await waitFor(() => p.changes.length === 2, "the new container");
  assert.deepEqual(servers(p.provider.fragments), {
    "web-1": ["http://10.0.0.2:8000"],
    "api-1": ["http://10.0.0.3:8000"],
  });

  // After SIGTERM the container keeps running until it finished its requests: it leaves
  // rotation before it exits.
  const exited = Promise.withResolvers<void>();
  const stopped = docker.stop(web, exited.promise);
  await waitFor(() => p.changes.length === 3, "the stopping container to leave");
  assert.deepEqual(servers(p.provider.fragments), { "api-1": ["http://10.0.0.3:8000"] });
  exited.resolve();
  await stopped;
  assert.deepEqual(docker.refused, []);
  assert.ok(docker.requests.every((r) => r.startsWith("GET ")));
});

Deno.test("an unhealthy container leaves and comes back when healthy", async () => {
  await using docker = await fakeDockerApi();
  const id = docker.run({ name: "web-1", labels: labels("web"), health: "healthy" });
  await using p = await providerFor(docker.endpoint);
  assert.equal(p.provider.fragments.length, 1);
  docker.setHealth(id, "unhealthy");
  await waitFor(() => p.provider.fragments.length === 0, "the unhealthy container to leave");
  docker.setHealth(id, "healthy");
  await waitFor(() => p.provider.fragments.length === 1, "the container to come back");
});

Deno.test("a lost API keeps the last routes, retries with backoff, and catches up on return", async () => {
  await using docker = await fakeDockerApi();
  docker.run({ name: "web-1", labels: labels("web"), ip: "10.0.0.2" });
  await using p = await providerFor(docker.endpoint);
  const before = p.provider.fragments;
  await docker.down();
  await waitFor(() => !p.provider.status().connected, "the provider to notice");
  const lost = p.provider.status();
  assert.match(lost.lastError ?? "", /events stream/);
  assert.equal(p.provider.fragments, before, "the routes stay as they were");
  await waitFor(() => p.provider.status().reconnects >= 2, "a failed retry");
  assert.match(p.provider.status().lastError ?? "", /^Cannot connect to the Docker API at unix:/);

  docker.up();
  docker.run({ name: "api-1", labels: labels("api"), ip: "10.0.0.3" });
  await waitFor(() => p.provider.status().connected, "the reconnection", 15_000);
  await waitFor(() => p.provider.fragments.length === 2, "the container started meanwhile");
  assert.equal(p.provider.status().lastError, null);
});

Deno.test("an API that refuses the list (a socket proxy allowing too little) is reported", async () => {
  await using docker = await fakeDockerApi({ refuse: ["/containers/json"] });
  await using p = await providerFor(docker.endpoint);
  const status = p.provider.status();
  assert.equal(status.connected, false);
  assert.equal(
    status.lastError,
    `Cannot GET /containers/json: the Docker API answered 403 "forbidden by the socket ` +
      `proxy" (a socket proxy must allow GET on /version, /containers/json and /events)`,
  );
  assert.deepEqual(p.changes, []);
});
