import assert from "node:assert/strict";
import { join } from "node:path";
import { testPki } from "../testing/certs.ts";
import { withTempDir } from "../config/test_helpers.ts";
import { AcmeStorage, caFolder, writeAtomic } from "./storage.ts";

const DIRECTORY = "https://acme-staging-v02.api.letsencrypt.org/directory";

Deno.test("caFolder keeps CAs apart by directory URL", () => {
  assert.equal(caFolder(DIRECTORY), "acme-staging-v02.api.letsencrypt.org_directory");
  assert.equal(caFolder("https://127.0.0.1:14000/dir"), "127.0.0.1_14000_dir");
});

Deno.test("writeAtomic replaces a file whole, with the mode asked, leaving no temporary file", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "a", "b", "key.pem");
    await writeAtomic(file, "one", 0o600);
    await writeAtomic(file, "two", 0o600);
    assert.equal(await Deno.readTextFile(file), "two");
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(join(dir, "a"))).mode! & 0o777, 0o700);
    assert.deepEqual([...Deno.readDirSync(join(dir, "a", "b"))].map((e) => e.name), ["key.pem"]);
  });
});

Deno.test("the account key is created once, private, and read back the same", async () => {
  await withTempDir(async (dir) => {
    const storage = new AcmeStorage(dir, DIRECTORY);
    const first = await storage.accountKey();
    const again = await new AcmeStorage(dir, DIRECTORY).accountKey();
    const jwk = (k: CryptoKeyPair) => crypto.subtle.exportKey("jwk", k.publicKey);
    assert.deepEqual(await jwk(again), await jwk(first));
    assert.equal((await Deno.stat(storage.accountKeyFile)).mode! & 0o777, 0o600);
  });
});

Deno.test("certificates are stored per host and refused when the key or the name does not fit", async () => {
  const pki = await testPki();
  const leaf = await pki.leaf("a.test");
  const other = await pki.leaf("other.test");
  await withTempDir(async (dir) => {
    const storage = new AcmeStorage(dir, DIRECTORY);
    assert.equal(await storage.load("a.test"), null, "nothing stored yet");
    const saved = await storage.save("a.test", leaf.certPem, leaf.keyPem);
    assert.deepEqual(saved.file.hosts, ["a.test"]);
    const loaded = await storage.load("a.test");
    assert.equal(loaded?.file.serial, saved.file.serial);
    assert.equal((await Deno.stat(saved.file.keyFile)).mode! & 0o777, 0o600);

    await Deno.writeTextFile(saved.file.keyFile, other.keyPem);
    await assert.rejects(storage.load("a.test"), /key .*key\.pem does not match it/);
    await assert.rejects(
      storage.save("a.test", other.certPem, other.keyPem),
      /it names other\.test, not "a\.test"/,
    );
  });
});
