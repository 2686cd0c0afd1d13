/**
 * When to renew: the CA's suggested window when it offers ACME Renewal Information (RFC 9773),
 * else a fixed share of the certificate's lifetime; and how long to wait after failures.
 *
 * @module
 */
import * as der from "../tls/der.ts";
import { base64url } from "./jws.ts";

const AUTHORITY_KEY_ID = der.oid("2.5.29.35").join();

/**
 * The RFC 9773 certificate identifier: base64url(authority key identifier) "."
 * base64url(serial number bytes as DER encodes them). Null when the certificate has no
 * authorityKeyIdentifier with a keyIdentifier (then ARI cannot name it).
 */
export function ariCertId(certPem: string): string | null {
  const [certificate] = der.readElements(der.fromPem("CERTIFICATE", certPem));
  const [tbs] = der.readElements(certificate.content);
  const fields = der.readElements(tbs.content);
  const first = fields[0].tag === 0xa0 ? 1 : 0;
  const serial = fields[first].content;
  const keyId = authorityKeyId(fields);
  return keyId === null ? null : `${base64url(keyId)}.${base64url(serial)}`;
}

function authorityKeyId(tbsFields: der.Element[]): Uint8Array | null {
  const extensions = tbsFields.find((field) => field.tag === 0xa3);
  if (extensions === undefined) return null;
  for (const ext of der.readElements(der.readElements(extensions.content)[0].content)) {
    const parts = der.readElements(ext.content);
    if (parts[0].encoded.join() !== AUTHORITY_KEY_ID) continue;
    const [value] = der.readElements(parts[parts.length - 1].content);
    const keyId = der.readElements(value.content).find((part) => part.tag === 0x80);
    return keyId?.content ?? null;
  }
  return null;
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
