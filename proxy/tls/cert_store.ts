/**
 * Which certificate a TLS handshake gets for its SNI name: exact names first, then the wildcard
 * one label up (`*.example.com` covers `a.example.com`, not `a.b.example.com` nor
 * `example.com`, as RFC 6125 says), then the entrypoint's default policy. Certificates obtained
 * at run time (ACME) serve only names no certificate file covers.
 *
 * `sole` tells when every name gets the same certificate: such an entrypoint needs no SNI
 * resolver, and only a listener without one resumes TLS sessions (docs/tls.md).
 */
import type { CertificateFile, EntrypointTls } from "../config/types.ts";
import type { KeyPair } from "../internal/deno_internals.ts";
import { HostTable } from "../net/host_table.ts";

export class CertStore {
  readonly #names = new HostTable<KeyPair>();
  readonly #fallback: KeyPair | null;
  /** Identity of the certificate material: equal fingerprints need no new listener. */
  readonly fingerprint: string;
  /**
   * The certificate every server name gets, no SNI included (one certificate, which is also
   * the default), or null when the answer depends on the name or unknown names are refused.
   */
  readonly sole: KeyPair | null;

  /** `obtained`: certificates from ACME, for the names the files leave uncovered. */
  constructor(tls: EntrypointTls, obtained: readonly CertificateFile[] = []) {
    let fallback: KeyPair | null = null;
    const parts: string[] = [];
    for (const c of tls.certificates) {
      const pair = { cert: c.certPem, key: c.keyPem };
      for (const host of c.hosts) this.#names.claim(host, pair);
      if (c.name === tls.defaultCertificate) fallback = pair;
      parts.push(c.name, c.hosts.join(","), c.certPem, c.keyPem);
    }
    for (const c of obtained) {
      const hosts = c.hosts.filter((host) => !this.covers(host));
      for (const host of hosts) this.#names.claim(host, { cert: c.certPem, key: c.keyPem });
      parts.push(c.name, hosts.join(","), c.certPem, c.keyPem);
    }
    parts.push(tls.defaultCertificate ?? "reject");
    this.#fallback = fallback;
    this.fingerprint = parts.join("\n");
    const pairs = this.#names.values();
    this.sole = fallback !== null && pairs.every((p) => samePair(p, fallback)) ? fallback : null;
  }

  /** The certificate for `serverName` ("" = no SNI), or null to refuse the handshake. */
  lookup(serverName: string): KeyPair | null {
    return this.#names.match(serverName) ?? this.#fallback;
  }

  /** True when `serverName` is covered by a certificate (not only by the default). */
  covers(serverName: string): boolean {
    return this.#names.covers(serverName);
  }
}

function samePair(a: KeyPair, b: KeyPair): boolean {
  return a.cert === b.cert && a.key === b.key;
}
