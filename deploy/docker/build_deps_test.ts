import assert from "node:assert/strict";
import { join } from "node:path";
import {
  caBundle,
  type DenoJson,
  type Lockfile,
  type ModuleInfo,
  npmRequest,
  trimToGraph,
} from "./build_deps.ts";

const config: DenoJson = {
  nodeModulesDir: "auto",
  imports: {
    yaml: "npm:yaml@2.9.1",
    logs: "npm:@scope/logs@1.0.0",
    tools: "npm:testtools@3.0.0",
    local: "./local/mod.ts",
  },
};

const lock: Lockfile = {
  version: "5",
  specifiers: {
    "npm:yaml@2.9.1": "2.9.1",
    "npm:@scope/logs@1.0.0": "1.0.0",
    "npm:testtools@3.0.0": "3.0.0",
  },
  npm: {
    "yaml@2.9.1": { integrity: "sha512-y" },
    "@scope/logs@1.0.0": { integrity: "sha512-l", dependencies: ["util"] },
    "util@2.0.0": { integrity: "sha512-u" },
    "testtools@3.0.0": { integrity: "sha512-t", dependencies: ["util", "big"] },
    "big@9.0.0": { integrity: "sha512-b" },
  },
  workspace: {
    dependencies: ["npm:@scope/logs@1.0.0", "npm:testtools@3.0.0", "npm:yaml@2.9.1"],
  },
};

const npmPackages = {
  "yaml@2.9.1": { dependencies: [] },
  "@scope/logs@1.0.0": { dependencies: ["util@2.0.0"] },
  "util@2.0.0": { dependencies: [] },
  "testtools@3.0.0": { dependencies: ["util@2.0.0", "big@9.0.0"] },
  "big@9.0.0": { dependencies: [] },
};

/** A module graph whose files import `specifiers`. */
function graph(...specifiers: string[]): ModuleInfo {
  return {
    modules: [
      { dependencies: specifiers.map((specifier) => ({ code: { specifier } })) },
      { dependencies: [{ code: { specifier: "file:///app/local/mod.ts" } }, {}] },
    ],
    npmPackages,
  };
}

Deno.test("npmRequest keeps the package and version of an npm specifier", () => {
  assert.equal(npmRequest("npm:yaml@2.9.1"), "npm:yaml@2.9.1");
  assert.equal(npmRequest("npm:yaml@2.9.1/dist/index.js"), "npm:yaml@2.9.1");
  assert.equal(npmRequest("npm:/@scope/logs@1.0.0/sub"), "npm:@scope/logs@1.0.0");
  assert.equal(npmRequest("npm:@scope/logs"), "npm:@scope/logs");
  assert.equal(npmRequest("node:path"), undefined);
  assert.equal(npmRequest("file:///app/x.ts"), undefined);
});

Deno.test("trimToGraph keeps the imported packages and their dependencies, nothing else", () => {
  const trimmed = trimToGraph(config, lock, graph("npm:yaml@2.9.1", "npm:@scope/logs@1.0.0/x"));
  assert.deepEqual(trimmed.packages, ["@scope/logs@1.0.0", "util@2.0.0", "yaml@2.9.1"]);
  assert.deepEqual(trimmed.config, {
    nodeModulesDir: "auto",
    imports: { yaml: "npm:yaml@2.9.1", logs: "npm:@scope/logs@1.0.0", local: "./local/mod.ts" },
  });
  assert.deepEqual(trimmed.lock, {
    version: "5",
    specifiers: { "npm:yaml@2.9.1": "2.9.1", "npm:@scope/logs@1.0.0": "1.0.0" },
    npm: {
      "@scope/logs@1.0.0": { integrity: "sha512-l", dependencies: ["util"] },
      "util@2.0.0": { integrity: "sha512-u" },
      "yaml@2.9.1": { integrity: "sha512-y" },
    },
    workspace: { dependencies: ["npm:@scope/logs@1.0.0", "npm:yaml@2.9.1"] },
  });
});

Deno.test("trimToGraph with no npm imports keeps no package", () => {
  const trimmed = trimToGraph(config, lock, graph());
  assert.deepEqual(trimmed.packages, []);
  assert.deepEqual(trimmed.lock.npm, {});
  assert.deepEqual(Object.keys(trimmed.config.imports!), ["local"]);
});

Deno.test("trimToGraph refuses what it cannot trim safely", () => {
  assert.throws(
    () => trimToGraph(config, { ...lock, version: "4" }, graph()),
    /Cannot trim deno.lock version "4": this step reads version 5/,
  );
  assert.throws(
    () => trimToGraph(config, lock, graph("npm:left-pad@1.3.0")),
    /no entry for "npm:left-pad@1.3.0"; run "deno install" and commit deno.lock/,
  );
  const broken = { ...lock, npm: { ...lock.npm, "util@2.0.0": undefined } };
  assert.throws(
    () => trimToGraph(config, broken, graph("npm:@scope/logs@1.0.0")),
    /package "util@2.0.0" is not in it/,
  );
});

Deno.test("caBundle joins the .crt and .pem files of a directory, in name order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await caBundle(join(dir, "missing")), "");
    await Deno.writeTextFile(join(dir, "b.pem"), "B\n\n");
    await Deno.writeTextFile(join(dir, "a.crt"), "A");
    await Deno.writeTextFile(join(dir, "README.md"), "not a certificate");
    assert.equal(await caBundle(dir), "A\nB\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
