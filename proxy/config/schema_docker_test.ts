import assert from "node:assert/strict";
import { parseDockerEndpoint } from "./schema_docker.ts";
import { configOf, errorsOf, MINIMAL } from "./test_helpers.ts";

Deno.test("docker endpoints: a unix socket path or tcp://host:port, nothing else", () => {
  assert.deepEqual(parseDockerEndpoint("unix:///var/run/docker.sock"), {
    transport: "unix",
    path: "/var/run/docker.sock",
  });
  assert.deepEqual(parseDockerEndpoint("tcp://docker-api:2375"), {
    transport: "tcp",
    hostname: "docker-api",
    port: 2375,
  });
  assert.deepEqual(parseDockerEndpoint("tcp://[::1]:2375/"), {
    transport: "tcp",
    hostname: "::1",
    port: 2375,
  });
  assert.match(String(parseDockerEndpoint("https://docker:2376")), /without TLS/);
  assert.match(String(parseDockerEndpoint("tcp://docker-api")), /expected a Docker API address/);
  assert.match(String(parseDockerEndpoint("tcp://docker-api:70000")), /out of range/);
  assert.match(String(parseDockerEndpoint("unix://relative.sock")), /expected/);
});

Deno.test("the docker section is off by default and resolves its settings", async () => {
  const off = await configOf(MINIMAL);
  assert.deepEqual(off.docker, {
    enabled: false,
    endpoint: { transport: "unix", path: "/var/run/docker.sock" },
    endpointText: "unix:///var/run/docker.sock",
    exposedByDefault: false,
    network: null,
    traefikLabels: false,
  });
  const on = await configOf(
    MINIMAL +
      "docker: { enabled: true, endpoint: tcp://docker-api:2375, network: apps, traefik_labels: true }\n",
  );
  assert.equal(on.docker.enabled, true);
  assert.deepEqual(on.docker.endpoint, { transport: "tcp", hostname: "docker-api", port: 2375 });
  assert.equal(on.docker.network, "apps");
  assert.equal(on.docker.traefikLabels, true);
  assert.deepEqual(await errorsOf(MINIMAL + "docker: { endpoint: http://docker:2375 }\n"), [
    `4:21 docker.endpoint: the Docker API is spoken without TLS here: write "tcp://host:port" ` +
    `for a socket proxy on a private network, found "http://docker:2375"`,
  ]);
});
