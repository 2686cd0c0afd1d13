import assert from "node:assert/strict";
import { join } from "node:path";
import { missingTools, preflightMessage, PROGRAMS, PYTHON_MODULES } from "./preflight.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("preflight names each missing program and python module, and the apt-get line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gatehouse-preflight-" });
  try {
    const present = [
      "curl",
      "openssl",
      "h2load",
      "pebble",
      "pebble-challtestsrv",
      "gunicorn",
      "socat",
      "dnsmasq",
      "dig",
    ];
    for (const name of present) {
      await Deno.writeTextFile(join(dir, name), "#!/bin/sh\n", { mode: 0o755 });
    }
    await Deno.writeTextFile(join(dir, "nghttp"), "not executable\n", { mode: 0o644 });
    const missing = await missingTools(`${dir}:/nonexistent`, join(dir, "no-python"), dir);
    assert.deepEqual(missing, {
      names: ["nghttp", "python3 websockets", "python3 prometheus_client", "libfaketime"],
      packages: [
        "nghttp2-client",
        "python3-websockets",
        "python3-prometheus-client",
        "libfaketime",
      ],
    });
    assert.equal(
      preflightMessage(missing),
      "Cannot run the tests: nghttp, python3 websockets, python3 prometheus_client, libfaketime " +
        "missing (the tests use real clients and servers).\nInstall them (Debian/Ubuntu): sudo " +
        "apt-get install -y nghttp2-client python3-websockets python3-prometheus-client libfaketime",
    );
    assert.equal(preflightMessage({ names: [], packages: [] }), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task test runs the preflight first, and .ci/run installs every package it names", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))).tasks;
  assert.match(
    tasks.test.command,
    /^deno run \S+ \S+ \S+ proxy\/testing\/preflight\.ts && deno test /,
  );
  const ci = await Deno.readTextFile(join(ROOT, ".ci/run"));
  for (const { debian } of [...PROGRAMS, ...PYTHON_MODULES]) {
    assert.match(ci, new RegExp(`missing\\+=\\(${debian}\\)`), debian);
  }
});
