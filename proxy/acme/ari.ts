/**
 * When to renew: the CA's suggested window when it offers ACME Renewal Information (RFC 9773),
 * else a fixed share of the certificate's lifetime; and how long to wait after failures.
 *
 * @module
 */
import { loadX509 } from "../pki/x509.ts";
import { base64url } from "./jws.ts";

/**
 * The RFC 9773 certificate identifier: base64url(authority key identifier) "."
 * base64url(serial number bytes as DER encodes them). Null when the certificate has no
 * authorityKeyIdentifier with a keyIdentifier (then ARI cannot name it).
 */
export async function ariCertId(certPem: string): Promise<string | null> {
  const x509 = await loadX509();
  const cert = new x509.X509Certificate(certPem);
  const keyId = cert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId;
  if (keyId === undefined) return null;
  // The library gives the serial's magnitude; DER puts a 0 before a high first bit (RFC 5280
  // serials are positive).
  const magnitude = Uint8Array.fromHex(cert.serialNumber);
  const serial = magnitude[0] & 0x80 ? Uint8Array.of(0, ...magnitude) : magnitude;
  return `${base64url(Uint8Array.fromHex(keyId))}.${base64url(serial)}`;
}

/** The moment `share` (0-1) of the lifetime from `notBefore` to `notAfter` has passed. */
export function lifetimeRenewal(notBefore: Date, notAfter: Date, share: number): Date {
  const start = notBefore.getTime();
  return new Date(start + (notAfter.getTime() - start) * share);
}

/**
 * A moment in the suggested window, chosen uniformly at random as RFC 9773 section 4.2 asks
 * (so that many clients do not renew at once); `random` is in [0, 1).
 */
export function windowRenewal(start: Date, end: Date, random = Math.random()): Date {
  return new Date(start.getTime() + (end.getTime() - start.getTime()) * random);
}

/** Delay before attempt `failures + 1`: `initial` doubled per failure, at most `max`. */
export function backoff(failures: number, initial: number, max: number): number {
  return Math.min(max, initial * 2 ** Math.max(0, failures - 1));
}
