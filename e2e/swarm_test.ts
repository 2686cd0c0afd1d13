/**
 * docker-compose.yml deployed to a one-node Docker Swarm on loopback: Gatehouse in front of two
 * replicas of the demo app, reached through the published port. Initialises the swarm when this
 * Docker engine has none, and leaves it (and the network it created) afterwards; removes the
 * stack, its volume and the images.
 *
 * @module
 */
import assert from "node:assert/strict";
import { https } from "./support/client.ts";
import {
  buildImages,
  docker,
  dockerTest,
  eventually,
  REPO,
  run,
  runTag,
} from "./support/docker.ts";
import { checkDemoApps, devCa, stackEnv } from "./support/stack.ts";

/** Joins a one-node swarm unless the engine is in one; returns how to undo what it did. */
async function ensureSwarm(): Promise<() => Promise<void>> {
  const state = await docker("info", "--format", "{{.Swarm.LocalNodeState}}");
  if (state === "active") {
    const manager = await docker("info", "--format", "{{.Swarm.ControlAvailable}}");
    if (manager !== "true") throw new Error("Cannot deploy a stack: this node is a swarm worker");
    return () => Promise.resolve();
  }
  const bridge = await run("docker", ["network", "inspect", "docker_gwbridge"], { check: false });
  await docker("swarm", "init", "--advertise-addr", "127.0.0.1");
  return async () => {
    await docker("swarm", "leave", "--force");
    if (bridge.code !== 0) await docker("network", "rm", "docker_gwbridge");
  };
}

/** Removes stack `name` and waits until its containers, network and volume are gone. */
async function removeStack(name: string): Promise<void> {
  await docker("stack", "rm", name);
  const label = `label=com.docker.stack.namespace=${name}`;
  await eventually(
    "the stack's containers and network to go",
    async () => {
      const left = await docker("ps", "--all", "--quiet", "--filter", label);
      const networks = await docker("network", "ls", "--quiet", "--filter", label);
      return left === "" && networks === "";
    },
    90_000,
    500,
  );
  await eventually(
    "the certs volume to be removed",
    async () => {
      const volume = `${name}_certs`;
      const exists = await run("docker", ["volume", "inspect", volume], { check: false });
      if (exists.code === 0) await docker("volume", "rm", volume);
      return true;
    },
    30_000,
    500,
  );
}

dockerTest("docker stack deploy: requests through Gatehouse reach both app replicas", async (
  t,
  stack,
  dir,
) => {
  stack.defer(await ensureSwarm());
  const tag = runTag();
  stack.use(await buildImages(tag));
  const { env, httpsPort, tcpPort } = stackEnv(tag);
  const name = tag.replaceAll("-", "");
  stack.defer(() => removeStack(name));
  await run("docker", ["stack", "deploy", "--compose-file", "docker-compose.yml", name], {
    env,
    cwd: REPO,
  });

  const service = (s: string) => `label=com.docker.swarm.service.name=${name}_${s}`;
  const id = await eventually(
    "the Gatehouse task",
    async () => {
      return (await docker("ps", "--quiet", "--filter", service("gatehouse"))) || undefined;
    },
    60_000,
    500,
  );
  const ca = await devCa(id, dir);

  await t.step("each demo app answers through the published HTTPS and TCP ports", async () => {
    await checkDemoApps({ https: httpsPort, tcp: tcpPort }, ca);
  });

  await t.step("requests reach both replicas of the app", async () => {
    const replicas = await eventually(
      "two running app replicas",
      async () => {
        const ids = (await docker("ps", "--quiet", "--filter", service("app"))).split("\n");
        return ids.length === 2 && ids.every(Boolean) && ids;
      },
      60_000,
      500,
    );
    const hostnames = await Promise.all(replicas.map((replica) => {
      return docker("inspect", "--format", "{{.Config.Hostname}}", replica);
    }));
    const seen = new Set<string>();
    const target = { host: "app.localhost", port: httpsPort, caFile: ca.caFile };
    await eventually(
      "answers from both replicas",
      async () => {
        const batch = await Promise.all(
          Array.from({ length: 8 }, () => https(target, "/slow?ms=200")),
        );
        for (const answer of batch) {
          if (answer.status === 200) seen.add(JSON.parse(answer.body).hostname);
        }
        return seen.size === 2;
      },
      60_000,
      100,
    );
    assert.deepEqual([...seen].sort(), hostnames.sort());
  });
});
