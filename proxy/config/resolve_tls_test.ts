import assert from "node:assert/strict";
import { join } from "node:path";
import { testPki } from "../testing/certs.ts";
import { createLeaf } from "../pki/generate.ts";
import { configOf, errorsOf, TLS_MINIMAL, withCerts, writePair, yaml } from "./test_helpers.ts";

const DAY_MS = 86_400_000;

Deno.test("a certificate's hosts default to its DNS names; name to the file's base name", async () => {
  await withCerts(async (file, dir) => {
    const config = await configOf(TLS_MINIMAL, file);
    const tls = config.entrypoints.websecure.tls!;
    const [cert] = tls.certificates;
    assert.equal(cert.name, "localhost");
    assert.deepEqual(cert.hosts, ["localhost", "*.localhost"]);
    assert.equal(cert.certFile, join(dir, "certs", "localhost.crt"));
    assert.equal(cert.keyFile, join(dir, "certs", "localhost.key"));
    assert.equal(cert.certPem, await Deno.readTextFile(cert.certFile));
    assert.equal(cert.keyPem, await Deno.readTextFile(cert.keyFile));
    assert.equal(cert.subject, "CN=localhost");
    assert.match(cert.serial, /^[0-9A-F]+$/);
    assert.ok(cert.notAfter.getTime() > Date.now());
    assert.deepEqual([tls.defaultCertificate, tls.minVersion, tls.alpn], ["localhost", "1.2", [
      "h2",
      "http/1.1",
    ]]);
    assert.deepEqual(config.files, [file, cert.certFile, cert.keyFile]);
  });
});

Deno.test("names, explicit hosts, default certificate and alpn can be set", async () => {
  await withCerts(async (file) => {
    const text = TLS_MINIMAL.replace("- { cert", "- { name: dev, cert") + yaml`
      routes: []
    `;
    const base = yaml`
      entrypoints:
        websecure:
          address: ":8443"
          tls:
            certificates:
              - { cert: ../certs/localhost.crt, key: ../certs/localhost.key }
              - { cert: ../certs/other.crt, key: ../certs/other.key, name: legacy, hosts: [Old.Test, "*.old.test"] }
            alpn: [http/1.1]
    `;
    const config = await configOf(base + "      default_certificate: legacy\n", file);
    const tls = config.entrypoints.websecure.tls!;
    assert.deepEqual(tls.certificates.map((c) => [c.name, c.hosts]), [
      ["localhost", ["localhost", "*.localhost"]],
      ["legacy", ["old.test", "*.old.test"]],
    ]);
    assert.equal(tls.defaultCertificate, "legacy");
    assert.deepEqual(tls.alpn, ["http/1.1"]);
    const reject = await configOf(base + "      default_certificate: reject\n", file);
    assert.equal(reject.entrypoints.websecure.tls!.defaultCertificate, null);
    assert.deepEqual(await errorsOf(base + "      default_certificate: legacyy\n", file), [
      `9:28 entrypoints.websecure.tls.default_certificate: unknown certificate "legacyy" (known: localhost, legacy; or "reject")`,
    ]);
    assert.equal(
      (await configOf(text, file)).entrypoints.websecure.tls!.certificates[0].name,
      "dev",
    );
  });
});

Deno.test("certificate names must be unique within an entrypoint", async () => {
  await withCerts(async (file) => {
    const text = yaml`
      entrypoints:
        websecure:
          address: ":8443"
          tls:
            certificates:
              - { cert: ../certs/localhost.crt, key: ../certs/localhost.key }
              - { cert: ../certs/other.crt, key: ../certs/other.key, name: localhost }
              - { cert: ../certs/localhost.crt, key: ../certs/localhost.key }
    `;
    assert.deepEqual(await errorsOf(text, file), [
      `7:70 entrypoints.websecure.tls.certificates[1].name: duplicate certificate name "localhost" (also certificates[0]); set "name" to tell them apart`,
      `8:11 entrypoints.websecure.tls.certificates[2]: duplicate certificate name "localhost" (also certificates[0]); set "name" to tell them apart`,
    ]);
  });
});

Deno.test("missing certificate and key files name the resolved path and what to do", async () => {
  await withCerts(async (file, dir) => {
    await Deno.remove(join(dir, "certs", "localhost.key"));
    const text = yaml`
      entrypoints:
        websecure:
          address: ":8443"
          tls:
            certificates:
              - { cert: ../certs/localhost.crt, key: ../certs/localhost.key }
              - { cert: ../certs/missing.crt, key: ../certs/other.key }
    `;
    const key = join(dir, "certs", "localhost.key");
    const missing = join(dir, "certs", "missing.crt");
    assert.deepEqual(await errorsOf(text, file), [
      `6:48 entrypoints.websecure.tls.certificates[0].key: Cannot read key file "${key}": file not found; run "deno task certs" to create it`,
      `7:19 entrypoints.websecure.tls.certificates[1].cert: Cannot read certificate file "${missing}": file not found; check the path (relative paths start at the config file's directory)`,
    ]);
  });
});

Deno.test("a key that does not match, and unreadable PEM, are errors", async () => {
  await withCerts(async (file, dir) => {
    await Deno.writeTextFile(join(dir, "certs", "bad.crt"), "not a certificate");
    await Deno.writeTextFile(join(dir, "certs", "bad.key"), "-----BEGIN PRIVATE KEY-----\nAA\n");
    const text = yaml`
      entrypoints:
        websecure:
          address: ":8443"
          tls:
            certificates:
              - { cert: ../certs/localhost.crt, key: ../certs/other.key }
              - { cert: ../certs/bad.crt, key: ../certs/other.key }
              - { cert: ../certs/other.crt, key: ../certs/bad.key }
    `;
    const certs = join(dir, "certs");
    assert.deepEqual(await errorsOf(text, file), [
      `6:48 entrypoints.websecure.tls.certificates[0].key: key file "${certs}/other.key" does not match certificate file "${certs}/localhost.crt"`,
      `7:19 entrypoints.websecure.tls.certificates[1].cert: Cannot parse certificate file "${certs}/bad.crt": no PEM block found`,
      `8:44 entrypoints.websecure.tls.certificates[2].key: Cannot parse key file "${certs}/bad.key": key is not a readable private key`,
    ]);
  });
});

Deno.test("DNS names are lowercased; a certificate without any needs explicit hosts", async () => {
  await withCerts(async (file, dir) => {
    await writePair(join(dir, "certs"), "ip", await (await testPki()).leaf("127.0.0.1"));
    const text = yaml`
      entrypoints:
        websecure:
          address: ":8443"
          tls:
            certificates:
              - { cert: ../certs/ip.crt, key: ../certs/ip.key }
    `;
    assert.deepEqual(await errorsOf(text, file), [
      `6:11 entrypoints.websecure.tls.certificates[0]: certificate file "${dir}/certs/ip.crt" has no DNS names: list the host names it serves in "hosts"`,
    ]);
    await writePair(join(dir, "certs"), "mixed", await (await testPki()).leaf("Mixed.Test"));
    const mixed = await configOf(text.replaceAll("/ip.", "/mixed."), file);
    assert.deepEqual(mixed.entrypoints.websecure.tls!.certificates[0].hosts, ["mixed.test"]);
    const fixed = text.replace("key: ../certs/ip.key", "key: ../certs/ip.key, hosts: [ip.test]");
    const config = await configOf(fixed, file);
    assert.deepEqual(config.entrypoints.websecure.tls!.certificates[0].hosts, ["ip.test"]);
    const empty = text.replaceAll("/ip.", "/localhost.").replace(".key }", ".key, hosts: [] }");
    assert.deepEqual(await errorsOf(empty, file), [
      `6:79 entrypoints.websecure.tls.certificates[0].hosts: list at least one host name, or remove "hosts" to use the certificate's`,
    ]);
  });
});

Deno.test("expired and not yet valid certificates load (they are logged, not refused)", async () => {
  await withCerts(async (file, dir) => {
    const { ca } = await testPki();
    const old = await createLeaf({
      ca,
      commonName: "old.test",
      dnsNames: ["old.test"],
      days: 1,
      notBefore: new Date(Date.now() - 10 * DAY_MS),
    });
    const future = await createLeaf({
      ca,
      commonName: "new.test",
      dnsNames: ["new.test"],
      days: 1,
      notBefore: new Date(Date.now() + 10 * DAY_MS),
    });
    await writePair(join(dir, "certs"), "old", old);
    await writePair(join(dir, "certs"), "new", future);
    const config = await configOf(
      yaml`
        entrypoints:
          websecure:
            address: ":8443"
            tls:
              certificates:
                - { cert: ../certs/old.crt, key: ../certs/old.key }
                - { cert: ../certs/new.crt, key: ../certs/new.key }
      `,
      file,
    );
    const [expired] = config.entrypoints.websecure.tls!.certificates;
    assert.ok(expired.notAfter.getTime() < Date.now());
  });
});

Deno.test("TLS settings: min_version 1.3, empty or unknown alpn are refused", async () => {
  await withCerts(async (file) => {
    const text = TLS_MINIMAL.replace(
      "      certificates:",
      "      min_version: 1.3\n      alpn: [h3, h2, h2]\n      certificates:",
    );
    assert.deepEqual(await errorsOf(text, file), [
      `5:20 entrypoints.websecure.tls.min_version: Cannot require TLS 1.3: Deno's TLS stack negotiates TLS 1.2 and 1.3 and cannot refuse 1.2; remove "min_version"`,
      `6:14 entrypoints.websecure.tls.alpn[0]: expected one of "h2", "http/1.1", found "h3" (did you mean "h2"?)`,
      `6:22 entrypoints.websecure.tls.alpn[2]: "h2" is listed twice`,
    ]);
    const none = TLS_MINIMAL.replace(
      "      certificates:",
      "      alpn: []\n      certificates:",
    );
    assert.deepEqual(await errorsOf(none, file), [
      "5:13 entrypoints.websecure.tls.alpn: list at least one protocol",
    ]);
  });
});

Deno.test("upstream CA files are read relative to the config file and checked", async () => {
  await withCerts(async (file, dir) => {
    const { caPem } = await testPki();
    await Deno.writeTextFile(join(dir, "certs", "ca.crt"), caPem);
    await Deno.writeTextFile(join(dir, "config", "junk.pem"), "junk");
    const service = (ca: string) =>
      TLS_MINIMAL + yaml`
        services:
          api:
            servers: [https://api.internal:8443]
            tls: { ca_file: ${ca} }
      `;
    const config = await configOf(service("../certs/ca.crt"), file);
    const tls = config.services.api.tls;
    assert.deepEqual([tls.caFile, tls.caPem], [join(dir, "certs", "ca.crt"), caPem]);
    assert.ok(config.files.includes(join(dir, "certs", "ca.crt")));
    assert.deepEqual(await errorsOf(service("junk.pem"), file), [
      `12:21 services.api.tls.ca_file: Cannot parse CA file "${dir}/config/junk.pem": no PEM block found`,
    ]);
    assert.deepEqual(await errorsOf(service("nope.pem"), file), [
      `12:21 services.api.tls.ca_file: Cannot read CA file "${dir}/config/nope.pem": file not found; check the path (relative paths start at the config file's directory)`,
    ]);
  });
});

Deno.test("files lists each file read once, config first", async () => {
  await withCerts(async (file, dir) => {
    const text = yaml`
      entrypoints:
        one: { address: ":8443", tls: { certificates: [{ cert: ../certs/localhost.crt, key: ../certs/localhost.key }] } }
        two: { address: ":9443", tls: { certificates: [{ cert: ../certs/localhost.crt, key: ../certs/localhost.key }] } }
    `;
    const config = await configOf(text, file);
    assert.deepEqual(config.files, [
      file,
      join(dir, "certs", "localhost.crt"),
      join(dir, "certs", "localhost.key"),
    ]);
  });
});
