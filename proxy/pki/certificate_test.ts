import assert from "node:assert/strict";
import { keyMatchesCertificate, parseCertificatePem } from "./certificate.ts";

interface OpensslCert {
  certPem: string;
  keyPem: string;
}

/** Makes a self-signed certificate with openssl, an oracle independent of our generator. */
async function opensslCert(
  args: { subj: string; san: string; algorithm?: string },
): Promise<OpensslCert> {
  const dir = await Deno.makeTempDir({ prefix: "gatehouse-cert-test-" });
  try {
    const keyArgs = args.algorithm === "rsa"
      ? ["-newkey", "rsa:2048"]
      : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
    const { success, stderr } = await new Deno.Command("openssl", {
      args: ["req", "-x509", ...keyArgs, "-nodes", "-days", "30", "-set_serial", "0x1f2e3d"]
        .concat(["-subj", args.subj, "-addext", `subjectAltName=${args.san}`])
        .concat(["-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`]),
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(success, new TextDecoder().decode(stderr));
    return {
      certPem: await Deno.readTextFile(`${dir}/cert.pem`),
      keyPem: await Deno.readTextFile(`${dir}/key.pem`),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const DAY_MS = 24 * 60 * 60 * 1000;

Deno.test("parseCertificatePem reads names, serial, validity and SANs", async () => {
  const { certPem } = await opensslCert({
    subj: "/CN=localhost/O=Gatehouse",
    san: "DNS:localhost,DNS:*.localhost,IP:127.0.0.1,IP:::1",
  });
  const before = Date.now();
  const info = parseCertificatePem(certPem);
  assert.equal(info.subject, "CN=localhost, O=Gatehouse");
  assert.equal(info.issuer, "CN=localhost, O=Gatehouse");
  assert.equal(info.serial, "1F2E3D");
  assert.deepEqual(info.dnsNames, ["localhost", "*.localhost"]);
  assert.deepEqual(info.ipAddresses, ["127.0.0.1", "::1"]);
  assert.ok(Math.abs(info.notBefore.getTime() - before) < 60_000, String(info.notBefore));
  assert.equal(info.notAfter.getTime() - info.notBefore.getTime(), 30 * DAY_MS);
});

Deno.test("parseCertificatePem reads the first certificate of a chain", async () => {
  const leaf = await opensslCert({ subj: "/CN=leaf.test", san: "DNS:leaf.test" });
  const other = await opensslCert({ subj: "/CN=other.test", san: "DNS:other.test" });
  const info = parseCertificatePem(`# comment\n${leaf.certPem}${other.certPem}`);
  assert.equal(info.subject, "CN=leaf.test");
  assert.deepEqual(info.dnsNames, ["leaf.test"]);
  assert.deepEqual(info.ipAddresses, []);
});

Deno.test("parseCertificatePem rejects input without a certificate", () => {
  for (
    const input of ["", "hello", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"]
  ) {
    assert.throws(() => parseCertificatePem(input), {
      message: "Cannot parse certificate: no PEM block found",
    });
  }
});

Deno.test("parseCertificatePem rejects a PEM block that is not X.509", () => {
  const pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  assert.throws(() => parseCertificatePem(pem), /^Error: Cannot parse certificate: /);
});

Deno.test("keyMatchesCertificate tells the certificate's key from others", async () => {
  const ec = await opensslCert({ subj: "/CN=a.test", san: "DNS:a.test" });
  const otherEc = await opensslCert({ subj: "/CN=a.test", san: "DNS:a.test" });
  const rsa = await opensslCert({ subj: "/CN=a.test", san: "DNS:a.test", algorithm: "rsa" });
  assert.equal(keyMatchesCertificate(ec.certPem, ec.keyPem), true);
  assert.equal(keyMatchesCertificate(rsa.certPem, rsa.keyPem), true);
  assert.equal(keyMatchesCertificate(ec.certPem, otherEc.keyPem), false);
  assert.equal(keyMatchesCertificate(ec.certPem, rsa.keyPem), false);
  assert.equal(keyMatchesCertificate(rsa.certPem, ec.keyPem), false);
});

Deno.test("keyMatchesCertificate rejects unreadable input", async () => {
  const ec = await opensslCert({ subj: "/CN=a.test", san: "DNS:a.test" });
  assert.throws(() => keyMatchesCertificate(ec.certPem, "not a key"), {
    message: "Cannot match key to certificate: key is not a readable private key",
  });
  assert.throws(() => keyMatchesCertificate("not a cert", ec.keyPem), {
    message: "Cannot match key to certificate: no PEM block found",
  });
});
