import assert from "node:assert/strict";
import { keyMatchesCertificate, parseCertificatePem } from "../pki/certificate.ts";
import type { PemPair } from "../pki/generate.ts";
import { TEST_HOSTS, testPki, writeTestCerts } from "./certs.ts";

/** Serves `server` on loopback and reads from it over TLS trusting `caPem`, as `name`. */
async function fetchOverTls(server: PemPair, caPem: string, name: string): Promise<number | null> {
  using listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: server.certPem,
    key: server.keyPem,
  });
  const served = listener.accept().then(async (conn) => {
    await conn.write(Uint8Array.of(1)).catch(() => 0);
    conn.close();
  });
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const tls = await Deno.startTls(tcp, { hostname: name, caCerts: [caPem] });
  try {
    return await tls.read(new Uint8Array(1));
  } finally {
    tls.close();
    await served;
  }
}

Deno.test("testPki is created once and remembers leaves by name list", async () => {
  const pki = await testPki();
  assert.equal(await testPki(), pki);
  assert.equal(await pki.leaf("a.test"), await pki.leaf("a.test"));
  assert.notEqual(await pki.leaf("a.test"), await pki.leaf("other.test"));
  assert.equal(pki.caPem, pki.ca.certPem);
  assert.ok(keyMatchesCertificate(pki.ca.certPem, pki.ca.keyPem));
});

Deno.test("testPki leaves serve TLS trusted by the test CA for their names only", async () => {
  const pki = await testPki();
  assert.equal(await fetchOverTls(await pki.leaf(), pki.caPem, "localhost"), 1);
  assert.equal(await fetchOverTls(await pki.leaf(), pki.caPem, "127.0.0.1"), 1);
  assert.equal(await fetchOverTls(await pki.leaf("*.b.test"), pki.caPem, "x.b.test"), 1);
  await assert.rejects(
    fetchOverTls(await pki.leaf("a.test"), pki.caPem, "other.test"),
    /not valid/,
  );
  const mixed = parseCertificatePem((await pki.leaf("a.test", "10.0.0.1")).certPem);
  assert.equal(mixed.subject, "CN=a.test");
  assert.deepEqual(mixed.dnsNames, ["a.test"]);
  assert.deepEqual(mixed.ipAddresses, ["10.0.0.1"]);
});

Deno.test("writeTestCerts writes the CA and a leaf per test host", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gatehouse-testcerts-" });
  try {
    const paths = await writeTestCerts(`${dir}/nested`);
    const pki = await testPki();
    assert.equal(await Deno.readTextFile(paths.caCertPath), pki.caPem);
    assert.deepEqual(Object.keys(paths.leaves), [...TEST_HOSTS]);
    assert.equal(paths.leaves["*.b.test"].certPath, `${dir}/nested/_wildcard.b.test.crt`);
    for (const host of TEST_HOSTS) {
      const { certPath, keyPath } = paths.leaves[host];
      const certPem = await Deno.readTextFile(certPath);
      assert.ok(keyMatchesCertificate(certPem, await Deno.readTextFile(keyPath)), host);
      assert.equal(parseCertificatePem(certPem).dnsNames[0], host);
      assert.equal((await Deno.stat(keyPath)).mode! & 0o777, 0o600, host);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
