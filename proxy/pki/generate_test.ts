import assert from "node:assert/strict";
import { keyMatchesCertificate, parseCertificatePem } from "./certificate.ts";
import { createCa, createCsr, createLeaf, type PemPair } from "./generate.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

const ca = await createCa({ commonName: "Gatehouse Test CA", days: 30 });
const leaf = await createLeaf({
  ca,
  commonName: "localhost",
  dnsNames: ["localhost", "*.localhost", "*.b.test"],
  ipAddresses: ["127.0.0.1", "::1"],
  days: 7,
});

/** TLS handshake on loopback: server presents `server`, client trusts `caPem` and checks `name`. */
async function handshake(server: PemPair, caPem: string, name: string): Promise<string> {
  using listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: server.certPem,
    key: server.keyPem,
  });
  const served = (async () => {
    const conn = await listener.accept();
    try {
      await conn.write(new TextEncoder().encode("hello"));
    } catch {
      // The client rejected our certificate; the client side reports it.
    } finally {
      conn.close();
    }
  })();
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const tls = await Deno.startTls(tcp, { hostname: name, caCerts: [caPem] });
  try {
    const buffer = new Uint8Array(5);
    const read = await tls.read(buffer);
    return new TextDecoder().decode(buffer.subarray(0, read ?? 0));
  } finally {
    tls.close();
    await served;
  }
}

/** Runs openssl in a temporary directory holding `files`; returns whether it succeeded. */
async function openssl(args: string[], files: Record<string, string>) {
  const dir = await Deno.makeTempDir({ prefix: "gatehouse-openssl-" });
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    const { success, stdout, stderr } = await new Deno.Command("openssl", { args, cwd: dir })
      .output();
    const decoder = new TextDecoder();
    return { success, output: decoder.decode(stdout) + decoder.decode(stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("createLeaf serves TLS that Deno verifies for DNS, wildcard and IP names", async () => {
  assert.equal(await handshake(leaf, ca.certPem, "localhost"), "hello");
  assert.equal(await handshake(leaf, ca.certPem, "app.b.test"), "hello");
  assert.equal(await handshake(leaf, ca.certPem, "127.0.0.1"), "hello");
});

Deno.test("Deno rejects the leaf for another name or under another CA", async () => {
  const otherCa = await createCa({ commonName: "Other CA", days: 30 });
  await assert.rejects(
    handshake(leaf, ca.certPem, "example.com"),
    /not valid for name "example.com"/,
  );
  await assert.rejects(
    handshake(leaf, otherCa.certPem, "localhost"),
    /UnknownIssuer|unknown issuer/i,
  );
});

Deno.test("Deno rejects a leaf whose validity has ended", async () => {
  const expired = await createLeaf({
    ca,
    commonName: "localhost",
    dnsNames: ["localhost"],
    days: 1,
    notBefore: new Date(Date.now() - 3 * DAY_MS),
  });
  await assert.rejects(handshake(expired, ca.certPem, "localhost"), /certificate expired/);
});

Deno.test("openssl verifies the leaf against its CA only", async () => {
  const good = await openssl(["verify", "-CAfile", "ca.pem", "leaf.pem"], {
    "ca.pem": ca.certPem,
    "leaf.pem": leaf.certPem,
  });
  assert.ok(good.success, good.output);
  assert.match(good.output, /leaf.pem: OK/);
  const otherCa = await createCa({ commonName: "Gatehouse Test CA", days: 30 });
  const bad = await openssl(["verify", "-CAfile", "ca.pem", "leaf.pem"], {
    "ca.pem": otherCa.certPem,
    "leaf.pem": leaf.certPem,
  });
  assert.equal(bad.success, false, bad.output);
});

Deno.test("createCa and createLeaf fill in the certificate fields", async () => {
  const notBefore = new Date("2026-01-02T03:04:05Z");
  const dated = await createLeaf({
    ca,
    commonName: "a.test",
    dnsNames: ["a.test"],
    days: 10,
    notBefore,
  });
  const info = parseCertificatePem(dated.certPem);
  assert.equal(info.subject, "CN=a.test");
  assert.equal(info.issuer, "CN=Gatehouse Test CA");
  assert.deepEqual(info.dnsNames, ["a.test"]);
  assert.deepEqual(info.ipAddresses, []);
  assert.equal(info.notBefore.toISOString(), "2026-01-02T03:04:05.000Z");
  assert.equal(info.notAfter.toISOString(), "2026-01-12T03:04:05.000Z");
  assert.match(info.serial, /^[4-7][0-9A-F]{31}$/);
  assert.notEqual(parseCertificatePem(leaf.certPem).serial, info.serial);
  assert.ok(keyMatchesCertificate(dated.certPem, dated.keyPem));
  assert.ok(keyMatchesCertificate(ca.certPem, ca.keyPem));
  assert.match(dated.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);

  const text = await openssl(["x509", "-in", "ca.pem", "-noout", "-text"], {
    "ca.pem": ca.certPem,
  });
  assert.match(text.output, /Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
  assert.match(text.output, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
  const leafText = await openssl(["x509", "-in", "leaf.pem", "-noout", "-text"], {
    "leaf.pem": leaf.certPem,
  });
  assert.match(leafText.output, /Basic Constraints: critical\s+CA:FALSE/);
  assert.match(leafText.output, /Key Usage: critical\s+Digital Signature\n/);
  assert.match(leafText.output, /Extended Key Usage: \s+TLS Web Server Authentication\n/);
  assert.match(leafText.output, /IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1/);
});

Deno.test("createLeaf rejects bad names and a mismatched CA key", async () => {
  const base = { ca, commonName: "x.test", days: 1 };
  await assert.rejects(createLeaf({ ...base, dnsNames: [] }), {
    message: "Cannot create certificate: no DNS names or IP addresses given",
  });
  await assert.rejects(createLeaf({ ...base, dnsNames: ["bücher.test"] }), {
    message: 'Cannot create certificate: DNS name "bücher.test" is not printable ASCII',
  });
  await assert.rejects(createLeaf({ ...base, dnsNames: [], ipAddresses: ["1.2.3"] }), {
    message: 'Cannot parse IP address: "1.2.3" is not an IPv4 or IPv6 address',
  });
  await assert.rejects(
    createLeaf({ ...base, ca: { ...ca, keyPem: leaf.keyPem }, dnsNames: ["x"] }),
    {
      message: "Cannot create certificate: CA key does not match CA certificate",
    },
  );
  await assert.rejects(createCa({ commonName: "CA", days: 0 }), {
    message: 'Cannot create certificate: days must be positive, got "0"',
  });
  await assert.rejects(createCa({ commonName: "", days: 1 }), {
    message: 'Cannot create certificate: common name "" must be 1 to 64 characters',
  });
});

Deno.test("createCsr makes a request openssl verifies, from a PEM key or a key pair", async () => {
  const fromPem = await createCsr({ keyPem: leaf.keyPem, dnsNames: ["a.test", "*.b.test"] });
  assert.match(fromPem.pem, /^-----BEGIN CERTIFICATE REQUEST-----\n/);
  assert.deepEqual(fromPem.der.subarray(0, 2), Uint8Array.of(0x30, 0x81));
  const checked = await openssl(["req", "-verify", "-in", "csr.pem", "-noout", "-text"], {
    "csr.pem": fromPem.pem,
  });
  assert.ok(checked.success, checked.output);
  assert.match(checked.output, /verify OK/);
  assert.match(checked.output, /Subject: CN = a.test\n/);
  assert.match(checked.output, /Subject Alternative Name: \s+DNS:a.test, DNS:\*.b.test\n/);
  const csrKey = await openssl(["req", "-in", "csr.pem", "-noout", "-pubkey"], {
    "csr.pem": fromPem.pem,
  });
  const certKey = await openssl(["x509", "-in", "c.pem", "-noout", "-pubkey"], {
    "c.pem": leaf.certPem,
  });
  assert.equal(csrKey.output, certKey.output);

  const keyPair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const longName = `${"a".repeat(60)}.example.com`;
  const fromPair = await createCsr({ keyPair, dnsNames: [longName] });
  const long = await openssl(["req", "-verify", "-in", "csr.pem", "-noout", "-text"], {
    "csr.pem": fromPair.pem,
  });
  assert.ok(long.success, long.output);
  assert.match(long.output, /Subject: *\n/);
  assert.match(long.output, /Subject Alternative Name: critical\s+DNS:a{60}.example.com\n/);
});

Deno.test("createCsr rejects an empty name list and a non-EC key", async () => {
  await assert.rejects(createCsr({ keyPem: leaf.keyPem, dnsNames: [] }), {
    message: "Cannot create CSR: no DNS names given",
  });
  await assert.rejects(createCsr({ keyPem: leaf.certPem, dnsNames: ["a.test"] }), {
    message: "Cannot read private key: expected EC P-256 in PKCS#8 PEM",
  });
});

Deno.test("createLeaf signs under a CA made by openssl, its subject encoding kept", async () => {
  // PrintableString CN and an O attribute (the CA's own encoding, unlike ours), no key id.
  const dir = await Deno.makeTempDir({ prefix: "gatehouse-openssl-ca-" });
  let foreign: PemPair;
  try {
    const made = await new Deno.Command("openssl", {
      args: ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        .concat(["-days", "2", "-subj", "/CN=Foreign CA/O=Elsewhere", "-utf8", "-nameopt", "utf8"])
        .concat(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=keyCertSign"])
        .concat(["-keyout", `${dir}/ca.key`, "-out", `${dir}/ca.pem`]),
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(made.success, new TextDecoder().decode(made.stderr));
    foreign = {
      certPem: await Deno.readTextFile(`${dir}/ca.pem`),
      keyPem: await Deno.readTextFile(`${dir}/ca.key`),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const signed = await createLeaf({
    ca: foreign,
    commonName: "localhost",
    dnsNames: ["localhost"],
    ipAddresses: ["::ffff:192.0.2.1"],
    days: 1,
  });
  assert.equal(await handshake(signed, foreign.certPem, "localhost"), "hello");
  assert.equal(parseCertificatePem(signed.certPem).issuer, "CN=Foreign CA, O=Elsewhere");
  const text = await openssl(["x509", "-in", "leaf.pem", "-noout", "-text"], {
    "leaf.pem": signed.certPem,
  });
  assert.match(text.output, /IP Address:0:0:0:0:0:FFFF:C000:201\n/);
});
