/**
 * Smoke test of docker-compose.yml as users run it (`up`, with docker-compose.override.yml):
 * Gatehouse on its HTTPS port in front of each demo app, with the development certificate it
 * created on first start, then `down -v`. Uses Debian's docker-compose 1.29 when installed,
 * else `docker compose`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { curl } from "./support/client.ts";
import {
  buildImages,
  composeCommand,
  docker,
  dockerTest,
  REPO,
  run,
  runTag,
} from "./support/docker.ts";
import { checkDemoApps, devCa, stackEnv } from "./support/stack.ts";

dockerTest("docker-compose up puts Gatehouse in front of the demo apps; down -v removes it", async (
  t,
  stack,
  dir,
) => {
  const tag = runTag();
  stack.use(await buildImages(tag));
  const { env, httpPort, httpsPort, tcpPort, adminPort } = stackEnv(tag);
  const project = tag.replaceAll("-", "");
  const [command, ...prefix] = await composeCommand();
  const compose = (...args: string[]) =>
    run(command, [...prefix, "--project-name", project, ...args], { env, cwd: REPO });
  stack.defer(async () => {
    await compose("down", "--volumes", "--remove-orphans");
  });

  await compose("up", "--detach", "--no-build");
  const id = (await compose("ps", "-q", "gatehouse")).stdout.trim();
  const ca = await devCa(id, dir);

  await t.step("each demo app answers through Gatehouse's HTTPS and TCP ports", async () => {
    await checkDemoApps({ https: httpsPort, tcp: tcpPort }, ca);
  });

  await t.step("plain HTTP redirects to https://app.localhost/", async () => {
    const answer = await curl([
      "--silent",
      "--header",
      "Host: app.localhost",
      `http://127.0.0.1:${httpPort}/`,
    ]);
    assert.deepEqual([answer.status, answer.location], [308, "https://app.localhost/"]);
  });

  await t.step("the admin port is published on 127.0.0.1 only", async () => {
    assert.deepEqual((await docker("port", id, "9901")).split("\n"), [`127.0.0.1:${adminPort}`]);
    const ready = await curl(["--silent", `http://127.0.0.1:${adminPort}/readyz`]);
    assert.deepEqual([ready.status, ready.body], [200, "ready\n"]);
  });

  await t.step("down -v removes the containers, the network and the certs volume", async () => {
    await compose("down", "--volumes", "--remove-orphans");
    const label = `label=com.docker.compose.project=${project}`;
    assert.equal(await docker("ps", "--all", "--quiet", "--filter", label), "");
    assert.equal(await docker("network", "ls", "--quiet", "--filter", label), "");
    assert.equal(await docker("volume", "ls", "--quiet", "--filter", label), "");
  });
});
