import assert from "node:assert/strict";
import { join } from "node:path";
import { keyMatchesCertificate, parseCertificatePem } from "../proxy/pki/certificate.ts";
import { ensureDevCertificates, trustInstructions } from "../proxy/pki/dev_ca.ts";

const DAY_MS = 24 * 60 * 60 * 1000;
const FILES = ["gatehouse-dev-ca.crt", "gatehouse-dev-ca.key", "localhost.crt", "localhost.key"];

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "gatehouse-mkcert-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function readAll(dir: string): Promise<Record<string, string>> {
  const entries = await Promise.all(
    FILES.map(async (name) => [name, await Deno.readTextFile(join(dir, name))]),
  );
  return Object.fromEntries(entries);
}

function later(days: number): Date {
  return new Date(Date.now() + days * DAY_MS);
}

Deno.test("ensureDevCertificates creates a CA and a localhost leaf that serve TLS", async () => {
  await withTempDir(async (parent) => {
    const dir = join(parent, "certs");
    const result = await ensureDevCertificates(dir);
    assert.equal(result.action, "created");
    assert.equal(result.reason, "no CA yet");
    assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort(), FILES);
    assert.equal((await Deno.stat(result.keyPath)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(result.caKeyPath)).mode! & 0o777, 0o600);

    const files = await readAll(dir);
    const ca = parseCertificatePem(files["gatehouse-dev-ca.crt"]);
    const leaf = parseCertificatePem(files["localhost.crt"]);
    assert.equal(Math.round((ca.notAfter.getTime() - ca.notBefore.getTime()) / DAY_MS), 3650);
    assert.equal(Math.round((leaf.notAfter.getTime() - leaf.notBefore.getTime()) / DAY_MS), 397);
    assert.deepEqual(result.notAfter, leaf.notAfter);
    assert.equal(leaf.issuer, ca.subject);
    assert.deepEqual(leaf.dnsNames, ["localhost", "*.localhost"]);
    assert.deepEqual(leaf.ipAddresses, ["127.0.0.1", "::1"]);
    assert.ok(keyMatchesCertificate(files["localhost.crt"], files["localhost.key"]));

    using listener = Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: files["localhost.crt"],
      key: files["localhost.key"],
    });
    const served = listener.accept().then(async (conn) => {
      await conn.write(new TextEncoder().encode("ok"));
      conn.close();
    });
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const tls = await Deno.startTls(tcp, {
      hostname: "localhost",
      caCerts: [files["gatehouse-dev-ca.crt"]],
    });
    const buffer = new Uint8Array(2);
    assert.equal(await tls.read(buffer), 2);
    tls.close();
    await served;
  });
});

Deno.test("ensureDevCertificates keeps valid files and renews a leaf near expiry", async () => {
  await withTempDir(async (dir) => {
    await ensureDevCertificates(dir);
    const first = await readAll(dir);

    const kept = await ensureDevCertificates(dir, { now: later(366), hosts: ["0:0::1"] });
    assert.equal(kept.action, "kept");
    assert.match(kept.reason, /^certificate is valid until \d{4}-\d\d-\d\d, more than 30 days$/);
    assert.deepEqual(await readAll(dir), first);

    const renewed = await ensureDevCertificates(dir, { now: later(368) });
    assert.equal(renewed.action, "renewed");
    assert.match(renewed.reason, /^certificate expires on .*, within 30 days$/);
    const second = await readAll(dir);
    assert.equal(second["gatehouse-dev-ca.crt"], first["gatehouse-dev-ca.crt"]);
    assert.equal(second["gatehouse-dev-ca.key"], first["gatehouse-dev-ca.key"]);
    assert.notEqual(second["localhost.crt"], first["localhost.crt"]);
    assert.notEqual(second["localhost.key"], first["localhost.key"]);
    assert.equal((await Deno.stat(renewed.keyPath)).mode! & 0o777, 0o600);
  });
});

Deno.test("ensureDevCertificates adds new hosts to the ones it has and replaces broken files", async () => {
  await withTempDir(async (dir) => {
    await ensureDevCertificates(dir);
    const withHosts = await ensureDevCertificates(dir, { hosts: ["app.test", "10.1.2.3"] });
    assert.equal(withHosts.action, "renewed");
    assert.equal(withHosts.reason, 'certificate lacks "app.test", "10.1.2.3"');
    const leaf = parseCertificatePem(await Deno.readTextFile(withHosts.certPath));
    assert.deepEqual(leaf.dnsNames, ["localhost", "*.localhost", "app.test"]);
    assert.deepEqual(leaf.ipAddresses, ["127.0.0.1", "::1", "10.1.2.3"]);

    const added = await ensureDevCertificates(dir, { hosts: ["API.test", "app.test"] });
    assert.equal(added.reason, 'certificate lacks "api.test"');
    const more = parseCertificatePem(await Deno.readTextFile(added.certPath));
    assert.deepEqual(more.dnsNames, ["localhost", "*.localhost", "app.test", "api.test"]);
    assert.deepEqual(more.ipAddresses, ["127.0.0.1", "::1", "10.1.2.3"]);
    assert.equal((await ensureDevCertificates(dir)).action, "kept");

    await Deno.copyFile(withHosts.caKeyPath, withHosts.keyPath);
    const mismatched = await ensureDevCertificates(dir, { hosts: ["app.test"] });
    assert.equal(mismatched.action, "renewed");
    assert.equal(mismatched.reason, "key does not match certificate");

    await Deno.writeTextFile(mismatched.caCertPath, "garbage");
    const broken = await ensureDevCertificates(dir);
    assert.equal(broken.action, "created");
    assert.equal(broken.reason, "Cannot match key to certificate: no PEM block found");
    const files = await readAll(dir);
    assert.ok(keyMatchesCertificate(files["gatehouse-dev-ca.crt"], files["gatehouse-dev-ca.key"]));
  });
});

Deno.test("ensureDevCertificates replaces the CA when forced or near its end", async () => {
  await withTempDir(async (dir) => {
    await ensureDevCertificates(dir);
    const first = await readAll(dir);
    const forced = await ensureDevCertificates(dir, { force: true });
    assert.equal(forced.action, "created");
    assert.equal(forced.reason, "--force given");
    const second = await readAll(dir);
    assert.notEqual(second["gatehouse-dev-ca.crt"], first["gatehouse-dev-ca.crt"]);

    const aging = await ensureDevCertificates(dir, { now: later(3400) });
    assert.equal(aging.action, "created");
    assert.match(aging.reason, /^CA expires on .*, within 397 days$/);
    assert.notEqual((await readAll(dir))["gatehouse-dev-ca.crt"], second["gatehouse-dev-ca.crt"]);
    const leftovers = (await Array.fromAsync(Deno.readDir(dir))).filter((e) =>
      !FILES.includes(e.name)
    );
    assert.deepEqual(leftovers, []);
  });
});

Deno.test("deno task certs runs with only its directory permissions", async () => {
  await withTempDir(async (dir) => {
    const run = (...args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", `--allow-read=${dir}`, `--allow-write=${dir}`, "certs/mkcert.ts", ...args],
        cwd: new URL("..", import.meta.url).pathname,
      }).output();
    const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

    const created = await run("--dir", dir, "--hosts", "a.test, b.test");
    assert.equal(created.code, 0, decode(created.stderr));
    const out = decode(created.stdout);
    assert.match(out, /^Created a new CA and certificate; trust the new CA \(no CA yet\):/);
    assert.ok(out.includes(`Certificate:    ${dir}/localhost.crt (localhost, *.localhost, `));
    assert.ok(out.includes("127.0.0.1, ::1, a.test, b.test; until "));
    assert.ok(out.includes(trustInstructions(`${dir}/gatehouse-dev-ca.crt`)));

    const again = await run("--dir", dir);
    assert.match(decode(again.stdout), /^Nothing to do, keeping the existing files/);

    // What `deno task certs -- --hosts c.test` passes on.
    const dashes = await run("--", "--dir", dir, "--hosts", "c.test");
    assert.equal(dashes.code, 0, decode(dashes.stderr));
    assert.ok(decode(dashes.stdout).includes("a.test, b.test, c.test; until "));

    const bad = await run("--dri", dir);
    assert.equal(bad.code, 2);
    assert.match(decode(bad.stderr), /^Cannot parse arguments: Unknown option '--dri'/);
  });
});

Deno.test("trustInstructions gives the commands for each platform", () => {
  const text = trustInstructions("certs/gatehouse-dev-ca.crt");
  for (
    const command of [
      "sudo cp certs/gatehouse-dev-ca.crt /usr/local/share/ca-certificates/ && " +
      "sudo update-ca-certificates",
      "sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain " +
      "certs/gatehouse-dev-ca.crt",
      'certutil -d sql:$HOME/.pki/nssdb -A -t "C,," -n "Gatehouse Development CA" ' +
      "-i certs/gatehouse-dev-ca.crt",
      "curl --cacert certs/gatehouse-dev-ca.crt https://localhost:8443/",
    ]
  ) {
    assert.ok(text.includes(command), command);
  }
});
