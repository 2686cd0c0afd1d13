/**
 * A new user's first start, as the README writes it: a clean clone, an empty DENO_DIR, no
 * global Deno needed (`npx -y deno@<engines.deno> task start`), no certificates yet. Checks the
 * welcome page over HTTP/2 and HTTP/1.1 with the CA that first start created (HEAD too), that the
 * Docker provider is off (the demo apps are routed by labels in the compose stack only), that no
 * test-only npm package was initialised, and `--version`.
 *
 * The only change to the clone: its default ports (8080, 8443, 7000; admin 9901) are replaced
 * by free ones, which other programs on a shared machine may hold.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { curl } from "./support/client.ts";
import { eventually, freePort, REPO, run } from "./support/docker.ts";

const ENGINE: string = JSON.parse(await Deno.readTextFile(join(REPO, "deno.json"))).engines.deno;
const START = ["npx", "-y", `deno@${ENGINE}`, "task", "start"];

/** Every directory name under `dir`, recursively (missing `dir`: none). */
async function directoryNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isDirectory) continue;
      names.push(entry.name, ...await directoryNames(join(dir, entry.name)));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names;
}

Deno.test({
  name: "a clean clone starts with the README's command on an empty DENO_DIR",
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "gatehouse-first-start-" });
  const clone = join(dir, "gatehouse");
  const denoDir = join(dir, "deno-dir");
  try {
    await run("git", ["clone", "--quiet", REPO, clone]);
    const ports = { http: freePort(), https: freePort(), tcp: freePort(), admin: freePort() };
    const configFile = join(clone, "config", "gatehouse.yaml");
    const config = (await Deno.readTextFile(configFile))
      .replace('":8080"', `":${ports.http}"`)
      .replace('":8443"', `":${ports.https}"`)
      .replace('":7000"', `":${ports.tcp}"`);
    await Deno.writeTextFile(configFile, config);
    const env = {
      DENO_DIR: denoDir,
      GATEHOUSE_ADMIN_ADDRESS: `127.0.0.1:${ports.admin}`,
      NO_COLOR: "1",
    };

    // setsid: npx, deno task and Gatehouse share a new process group, stopped as one.
    const child = new Deno.Command("setsid", {
      args: START,
      cwd: clone,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let output = "";
    const collect = (stream: ReadableStream<Uint8Array>) =>
      stream.pipeThrough(new TextDecoderStream()).pipeTo(
        new WritableStream({ write: (text) => void (output += text) }),
      );
    const collected = Promise.all([collect(child.stdout), collect(child.stderr)]);
    let exited = false;
    const status = child.status.finally(() => exited = true);
    try {
      await eventually(
        "the start-up line",
        () => {
          if (exited) return Promise.reject(new Error(`it exited:\n${output}`));
          return Promise.resolve(output.includes(" serving config/gatehouse.yaml"));
        },
        300_000,
        500,
      ).catch((error) => {
        throw new Error(`${error.message}\n${output}`);
      });
      const ca = join(clone, "certs", "gatehouse-dev-ca.crt");
      const https = `https://localhost:${ports.https}/`;

      await t.step("the start-up line lists each listener and calls the hash config=", () => {
        assert.match(output, /Created a development CA certs\/gatehouse-dev-ca\.crt/);
        assert.match(output, /\(config=[0-9a-f]{12}; /);
        assert.ok(output.includes(`https://localhost:${ports.https}, tcp://localhost:`), output);
        assert.ok(output.includes(`admin http://127.0.0.1:${ports.admin}`), output);
      });

      await t.step(
        "the welcome page over HTTP/2 and HTTP/1.1, HEAD too, with the new CA",
        async () => {
          for (const http of ["--http2", "--http1.1"]) {
            const page = await curl(["--silent", "--show-error", "--cacert", ca, http, https]);
            assert.equal(page.status, 200);
            assert.equal(page.httpVersion, http === "--http2" ? "2" : "1.1");
            assert.match(page.body, /<h1>Gatehouse is running<\/h1>/);
            const head = await curl([
              "--silent",
              "--show-error",
              "--cacert",
              ca,
              http,
              "--head",
              https,
            ]);
            assert.equal(head.status, 200);
            assert.match(head.body, /^content-type: text\/html/im);
            assert.doesNotMatch(head.body, /Gatehouse is running/);
          }
        },
      );

      await t.step("the Docker provider stays off outside the compose stack", async () => {
        const status = await curl(["--silent", `http://127.0.0.1:${ports.admin}/status`]);
        assert.equal(JSON.parse(status.body).docker, null);
        assert.doesNotMatch(output, /Docker API/);
      });

      await t.step(
        "only Gatehouse's npm packages were initialised; no build-script box",
        async () => {
          const names = [
            ...await directoryNames(join(denoDir, "npm")),
            ...await directoryNames(join(clone, "node_modules")),
          ];
          assert.ok(names.includes("yaml"), "yaml was not initialised");
          assert.deepEqual(names.filter((n) => /testcontainers|docker|ssh2/.test(n)), []);
          assert.doesNotMatch(output, /Ignored build scripts|approve-scripts/);
        },
      );
    } finally {
      if (!exited) Deno.kill(-child.pid, "SIGTERM");
      await status;
      await collected;
    }
    assert.match(output, /"msg":"Stopped"/);

    await t.step(
      "--version prints Gatehouse's version, the clone's commit and Deno's",
      async () => {
        const head = (await run("git", ["rev-parse", "HEAD"], { cwd: clone })).stdout.trim();
        const version = await run("npx", [...START.slice(1), "--version"], { cwd: clone, env });
        assert.match(
          version.stdout,
          new RegExp(`^gatehouse \\S+ \\(commit ${head.slice(0, 12)}\\)\n`),
        );
        assert.ok(version.stdout.includes(`\ndeno ${ENGINE}\n`), version.stdout);
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
