import assert from "node:assert/strict";
import { parseDockerEndpoint } from "../config/schema_docker.ts";
import type { DockerEndpoint } from "../config/types.ts";
import { fakeDockerApi } from "../testing/docker_api.ts";
import { DockerApi, DockerApiError, type DockerEvent } from "./api.ts";

function endpointOf(text: string): DockerEndpoint {
  const parsed = parseDockerEndpoint(text);
  if (typeof parsed === "string") throw new Error(parsed);
  return parsed;
}

for (const tcp of [false, true]) {
  Deno.test(`reads the container list and follows events over ${tcp ? "TCP" : "a unix socket"}, with GET only`, async () => {
    await using docker = await fakeDockerApi({ tcp });
    const api = new DockerApi(endpointOf(docker.endpoint));
    assert.deepEqual(await api.json("/version"), { Version: "20.10.24-fake", ApiVersion: "1.41" });
    const stop = new AbortController();
    const events = await api.events({ type: ["container"] }, stop.signal);
    const id = docker.run({ name: "app-1", labels: { "gatehouse.enable": "true" } });
    const seen: string[] = [];
    for await (const event of events as AsyncIterable<DockerEvent>) {
      seen.push(`${event.Type} ${event.Action}`);
      if (event.Action === "start") break;
    }
    assert.deepEqual(seen, ["container create", "network connect", "container start"]);
    const list = await api.json("/containers/json") as { Id: string }[];
    assert.deepEqual(list.map((c) => c.Id), [id]);
    stop.abort();
    assert.deepEqual(docker.refused, []);
    assert.ok(docker.requests.every((r) => r.startsWith("GET ")), docker.requests.join(", "));
  });
}

Deno.test("failures say where and why: nothing listening, a refusal, a lost stream", async () => {
  const missing = new DockerApi(endpointOf("unix:///nonexistent/docker.sock"));
  await assert.rejects(
    missing.json("/version"),
    (err: Error) =>
      err instanceof DockerApiError &&
      err.message.startsWith(
        "Cannot connect to the Docker API at unix:///nonexistent/docker.sock: ",
      ),
  );
  await using docker = await fakeDockerApi();
  const api = new DockerApi(endpointOf(docker.endpoint));
  await assert.rejects(
    api.json("/containers/x/json"),
    new DockerApiError(
      `Cannot GET /containers/x/json: the Docker API answered 404 "page not found"`,
    ),
  );
  const stop = new AbortController();
  const events = await api.events({}, stop.signal);
  const reading = (async () => {
    for await (const _ of events) {
      // none come
    }
  })();
  await docker.down();
  await assert.rejects(reading, DockerApiError);
});

Deno.test("a container list larger than one read arrives whole", async () => {
  await using docker = await fakeDockerApi({ tcp: true });
  const api = new DockerApi(endpointOf(docker.endpoint));
  const note = "x".repeat(1024);
  const ids = Array.from(
    { length: 300 },
    (_, i) => docker.run({ name: `app-${i}`, labels: { "gatehouse.enable": "true", note } }),
  );
  const list = await api.json("/containers/json") as { Id: string }[];
  assert.deepEqual(list.map((c) => c.Id).sort(), ids.sort());
});
