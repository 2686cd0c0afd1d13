/**
 * Which certificate a name gets, and when one certificate serves every name (`sole`: the
 * entrypoint then listens without an SNI resolver and resumes TLS sessions).
 */
import assert from "node:assert/strict";
import type { CertificateFile, EntrypointTls } from "../config/types.ts";
import { CertStore } from "./cert_store.ts";
import { checkHostCases, HOST_PATTERNS } from "../net/host_table_cases.ts";

/** A certificate file entry; the PEM text names it, so a lookup shows which one it found. */
function file(name: string, hosts: string[]): CertificateFile {
  return {
    name,
    certFile: `${name}.crt`,
    keyFile: `${name}.key`,
    certPem: `cert:${name}`,
    keyPem: `key:${name}`,
    hosts,
    subject: `CN=${name}`,
    serial: "01",
    notAfter: new Date("2030-01-01T00:00:00Z"),
  };
}

function tls(certificates: CertificateFile[], defaultCertificate: string | null): EntrypointTls {
  return { certificates, acme: false, defaultCertificate, minVersion: "1.2", alpn: ["http/1.1"] };
}

function found(store: CertStore, serverName: string): string | null {
  return store.lookup(serverName)?.cert.replace("cert:", "") ?? null;
}

Deno.test("CertStore: exact names first, then the wildcard one label up, else refuse", () => {
  const store = new CertStore(tls([
    file("wild", ["*.example.com"]),
    file("exact", ["api.example.com", "example.com"]),
  ], null));
  assert.equal(found(store, "api.example.com"), "exact", "exact beats the wildcard");
  assert.equal(found(store, "example.com"), "exact");
  assert.equal(found(store, "www.example.com"), "wild");
  assert.equal(found(store, "a.b.example.com"), null, "a wildcard covers one label only");
  assert.equal(found(store, "badexample.com"), null);
  assert.equal(found(store, ".example.com"), null, "an empty label matches nothing");
  assert.equal(found(store, ""), null, "no SNI and no default: refused");
  assert.equal(found(store, "WWW.Example.COM."), "wild", "case and a trailing dot do not matter");
});

Deno.test("CertStore: the default certificate answers names nothing covers and no SNI", () => {
  const store = new CertStore(
    tls([file("a", ["a.test"]), file("fallback", ["f.test"])], "fallback"),
  );
  assert.equal(found(store, "a.test"), "a");
  assert.equal(found(store, "unknown.test"), "fallback");
  assert.equal(found(store, ""), "fallback");
  assert.equal(store.covers("unknown.test"), false, "the default does not count as covering");
});

Deno.test("CertStore: the first file listing a name serves it", () => {
  const store = new CertStore(tls([
    file("first", ["a.test", "*.b.test"]),
    file("second", ["a.test", "*.b.test"]),
  ], null));
  assert.equal(found(store, "a.test"), "first");
  assert.equal(found(store, "x.b.test"), "first");
});

Deno.test("CertStore: obtained (ACME) certificates serve only names the files leave uncovered", () => {
  const files = tls([file("file", ["a.test", "*.b.test"])], null);
  const store = new CertStore(files, [
    file("acme-a", ["a.test"]),
    file("acme-x", ["x.b.test", "c.test"]),
  ]);
  assert.equal(found(store, "a.test"), "file");
  assert.equal(found(store, "x.b.test"), "file", "the file's wildcard covers it");
  assert.equal(found(store, "c.test"), "acme-x");
  assert.equal(store.covers("c.test"), true);
  assert.equal(store.covers("d.test"), false);
});

Deno.test("CertStore: the fingerprint changes with the material, not with the object", () => {
  const one = () => tls([file("a", ["a.test"])], null);
  assert.equal(new CertStore(one()).fingerprint, new CertStore(one()).fingerprint);
  const renewed = tls([{ ...file("a", ["a.test"]), certPem: "cert:a2" }], null);
  assert.notEqual(new CertStore(one()).fingerprint, new CertStore(renewed).fingerprint);
  const withDefault = tls([file("a", ["a.test"])], "a");
  assert.notEqual(new CertStore(one()).fingerprint, new CertStore(withDefault).fingerprint);
  const obtained = new CertStore(one(), [file("acme", ["c.test"])]);
  assert.notEqual(new CertStore(one()).fingerprint, obtained.fingerprint);
});

Deno.test("sole: one certificate that is also the default serves every name", () => {
  const store = new CertStore(tls([file("only", ["localhost", "*.localhost"])], "only"));
  assert.equal(store.sole?.cert, "cert:only");
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
  assert.equal(store.sole?.cert, "cert:a");
});

Deno.test("certificate lookup passes the shared host table cases", () => {
  const store = new CertStore(tls(HOST_PATTERNS.map((p) => file(p, [p])), null));
  assert.deepEqual(checkHostCases((name) => found(store, name)), []);
});
