import assert from "node:assert/strict";
import type { CertificateFile, EntrypointTls } from "../config/types.ts";
import { checkHostCases, HOST_PATTERNS } from "../net/host_table_cases.ts";
import { CertStore } from "./cert_store.ts";

/** A certificate file whose PEM text is its name (the store never parses it). */
function file(name: string, hosts: readonly string[]): CertificateFile {
  return {
    name,
    certFile: `${name}.crt`,
    keyFile: `${name}.key`,
    certPem: `cert:${name}`,
    keyPem: `key:${name}`,
    hosts,
    subject: name,
    serial: "1",
    notAfter: new Date(0),
  };
}

function tls(certificates: CertificateFile[], defaultCertificate: string | null): EntrypointTls {
  return { certificates, acme: false, defaultCertificate, minVersion: "1.2", alpn: ["h2"] };
}

const nameOf = (pair: { cert: string } | null) => pair?.cert.slice("cert:".length) ?? null;

Deno.test("certificate lookup passes the shared host table cases", () => {
  const store = new CertStore(tls(HOST_PATTERNS.map((p) => file(p, [p])), null));
  assert.deepEqual(checkHostCases((name) => nameOf(store.lookup(name))), []);
});

Deno.test("the default certificate answers names nothing covers; obtained ones fill gaps only", () => {
  const files = [file("site", ["a.test", "*.b.test"]), file("fallback", ["fallback.test"])];
  const obtained = [file("acme-a", ["a.test"]), file("acme-c", ["c.test", "x.b.test"])];
  const store = new CertStore(tls(files, "fallback"), obtained);
  assert.equal(nameOf(store.lookup("a.test")), "site");
  assert.equal(nameOf(store.lookup("x.b.test")), "site");
  assert.equal(nameOf(store.lookup("c.test")), "acme-c");
  assert.equal(nameOf(store.lookup("unknown.test")), "fallback");
  assert.equal(nameOf(store.lookup("")), "fallback");
  assert.equal(store.covers("unknown.test"), false);
  assert.equal(store.covers("c.test"), true);
  const strict = new CertStore(tls(files, null));
  assert.equal(strict.lookup("unknown.test"), null);
});
