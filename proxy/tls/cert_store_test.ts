/**
 * Which certificate a name gets, and when one certificate serves every name (`sole`: the
 * entrypoint then listens without an SNI resolver and resumes TLS sessions).
 */
import assert from "node:assert/strict";
import type { CertificateFile, EntrypointTls } from "../config/types.ts";
import { CertStore } from "./cert_store.ts";

/** A certificate file whose PEM texts are placeholders naming it (the store never parses them). */
function file(name: string, hosts: string[]): CertificateFile {
  return {
    name,
    certFile: `${name}.crt`,
    keyFile: `${name}.key`,
    certPem: `cert of ${name}`,
    keyPem: `key of ${name}`,
    hosts,
    subject: name,
    serial: "1",
    notAfter: new Date(Date.now() + 86_400_000),
  };
}

function tls(certificates: CertificateFile[], defaultCertificate: string | null): EntrypointTls {
  return { certificates, acme: false, defaultCertificate, minVersion: "1.2", alpn: ["h2"] };
}

Deno.test("names pick exact, then wildcard one label up, then the default", () => {
  const store = new CertStore(
    tls([file("a", ["a.test"]), file("wild", ["*.b.test"]), file("dflt", ["d.test"])], "dflt"),
  );
  assert.equal(store.lookup("A.Test.")?.cert, "cert of a");
  assert.equal(store.lookup("x.b.test")?.cert, "cert of wild");
  assert.equal(store.lookup("y.x.b.test")?.cert, "cert of dflt");
  assert.equal(store.lookup("")?.cert, "cert of dflt");
  const strict = new CertStore(tls([file("a", ["a.test"])], null));
  assert.equal(strict.lookup("other.test"), null);
});

Deno.test("sole: one certificate that is also the default serves every name", () => {
  const store = new CertStore(tls([file("only", ["localhost", "*.localhost"])], "only"));
  assert.equal(store.sole?.cert, "cert of only");
  assert.equal(store.sole, store.lookup("unknown.test"));
  assert.equal(store.sole, store.lookup(""));
});

Deno.test("sole: none when the answer depends on the name or unknown names are refused", () => {
  const two = new CertStore(tls([file("a", ["a.test"]), file("b", ["b.test"])], "a"));
  assert.equal(two.sole, null);
  const refusing = new CertStore(tls([file("a", ["a.test"])], null));
  assert.equal(refusing.sole, null);
  const obtained = new CertStore(tls([file("a", ["a.test"])], "a"), [file("acme", ["c.test"])]);
  assert.equal(obtained.sole, null);
  const none = new CertStore({ ...tls([], null), acme: true });
  assert.equal(none.sole, null);
});

Deno.test("sole: a second file with the same certificate and key still counts as one", () => {
  const twin = { ...file("a", ["x.test"]), name: "twin" };
  const store = new CertStore(tls([file("a", ["a.test"]), twin], "a"));
  assert.equal(store.sole?.cert, "cert of a");
});
