/**
 * What the main isolate sends a worker must arrive whole: a Config (every feature of
 * config/example.yaml, with certificates: dates and byte arrays) survives the structured clone
 * postMessage makes, prototypes included.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadConfig } from "../config/mod.ts";
import { writeTestCerts } from "../testing/certs.ts";

Deno.test("config/example.yaml's Config is the same after a structured clone", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gatehouse-clone-" });
  try {
    await Deno.mkdir(join(dir, "config"));
    const certs = join(dir, "certs");
    await Deno.mkdir(certs);
    const pki = await writeTestCerts(certs);
    const leaf = pki.leaves["localhost"];
    for (const name of ["example", "legacy"]) {
      await Deno.copyFile(leaf.certPath, join(certs, `${name}.crt`));
      await Deno.copyFile(leaf.keyPath, join(certs, `${name}.key`));
    }
    await Deno.copyFile(pki.caCertPath, join(certs, "internal-ca.crt"));
    const file = join(dir, "config", "gatehouse.yaml");
    await Deno.copyFile(new URL("../../config/example.yaml", import.meta.url), file);
    const loaded = await loadConfig(file);
    if (!loaded.ok) throw new Error(loaded.errors.map((e) => e.message).join("\n"));
    const config = loaded.config;
    assert.ok(config.entrypoints.websecure.tls!.certificates[0].notAfter instanceof Date);
    assert.deepStrictEqual(structuredClone(config), config);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
