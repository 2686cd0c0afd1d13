/**
 * Certificate generation in pure TypeScript (Web Crypto, no openssl): a CA, server leaves signed
 * by it, and PKCS#10 requests for ACME. Keys are EC P-256, signatures ECDSA with SHA-256.
 *
 * @module
 */
import * as der from "./der.ts";
import type { Bytes } from "./der.ts";
import { keyMatchesCertificate } from "./certificate.ts";
import { ipAddressBytes } from "../net/ip_address.ts";

/** A certificate and its private key, both PEM (the key as PKCS#8 "PRIVATE KEY"). */
export interface PemPair {
  certPem: string;
  keyPem: string;
}

/** Options for `createCa`. */
export interface CaOptions {
  commonName: string;
  days: number;
  /** Start of validity; defaults to now. */
  notBefore?: Date;
}

/** Options for `createLeaf`. */
export interface LeafOptions {
  /** The issuing CA; its key must be EC P-256. */
  ca: PemPair;
  commonName: string;
  dnsNames: string[];
  ipAddresses?: string[];
  days: number;
  /** Start of validity; defaults to now. */
  notBefore?: Date;
}

/** Options for `createCsr`: the names, and the key as PKCS#8 PEM or as a Web Crypto pair. */
export type CsrOptions =
  & { dnsNames: string[] }
  & ({ keyPem: string } | { keyPair: CryptoKeyPair });

/** A PKCS#10 certificate signing request, as DER (what ACME wants) and PEM. */
export interface Csr {
  der: Bytes;
  pem: string;
}

const OID = {
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  commonName: "2.5.4.3",
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  extensionRequest: "1.2.840.113549.1.9.14",
};
const KEY_USAGE = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 };
const EC_P256: EcKeyImportParams = { name: "ECDSA", namedCurve: "P-256" };
const DAY_MS = 24 * 60 * 60 * 1000;
const MAX_COMMON_NAME = 64;

interface Issuer {
  name: Bytes;
  keyId: Bytes;
  privateKey: CryptoKey;
}

/** Creates a self-signed CA that may sign end-entity certificates only (path length 0). */
export async function createCa(options: CaOptions): Promise<PemPair> {
  const keys = await generateKeyPair();
  const spki = await exportSpki(keys.publicKey);
  const subject = distinguishedName(options.commonName);
  const keyId = await subjectKeyId(spki);
  const certPem = await certificate({
    issuer: { name: subject, keyId, privateKey: keys.privateKey },
    subject,
    spki,
    notBefore: options.notBefore ?? new Date(),
    days: options.days,
    extensions: [
      extension(OID.basicConstraints, true, der.sequence(der.boolean(true), der.smallInteger(0))),
      extension(OID.keyUsage, true, der.namedBits([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign])),
      extension(OID.subjectKeyIdentifier, false, der.octetString(keyId)),
    ],
  });
  return { certPem, keyPem: await exportPkcs8(keys.privateKey) };
}

/** Creates a TLS server certificate for the given names, signed by `options.ca`. */
export async function createLeaf(options: LeafOptions): Promise<PemPair> {
  const ipAddresses = options.ipAddresses ?? [];
  if (options.dnsNames.length === 0 && ipAddresses.length === 0) {
    throw new Error(`Cannot create certificate: no DNS names or IP addresses given`);
  }
  const issuer = await readIssuer(options.ca);
  const keys = await generateKeyPair();
  const spki = await exportSpki(keys.publicKey);
  const certPem = await certificate({
    issuer,
    subject: distinguishedName(options.commonName),
    spki,
    notBefore: options.notBefore ?? new Date(),
    days: options.days,
    extensions: [
      extension(OID.basicConstraints, true, der.sequence()),
      extension(OID.keyUsage, true, der.namedBits([KEY_USAGE.digitalSignature])),
      extension(OID.extKeyUsage, false, der.sequence(der.oid(OID.serverAuth))),
      subjectAltName(options.dnsNames, ipAddresses, false),
      extension(OID.subjectKeyIdentifier, false, der.octetString(await subjectKeyId(spki))),
      extension(OID.authorityKeyIdentifier, false, der.sequence(der.implicit(0, issuer.keyId))),
    ],
  });
  return { certPem, keyPem: await exportPkcs8(keys.privateKey) };
}

/**
 * Creates a PKCS#10 request for `dnsNames` with a subjectAltName extension request. The subject
 * is CN=<first name> when that fits, else empty (the SAN is then marked critical).
 */
export async function createCsr(options: CsrOptions): Promise<Csr> {
  const [first] = options.dnsNames;
  if (first === undefined) throw new Error(`Cannot create CSR: no DNS names given`);
  const keys = "keyPair" in options ? options.keyPair : await importKeyPair(options.keyPem);
  const fits = first.length <= MAX_COMMON_NAME;
  const request = der.sequence(
    der.smallInteger(0),
    fits ? distinguishedName(first) : der.sequence(),
    await exportSpki(keys.publicKey),
    der.explicit(
      0,
      der.sequence(
        der.oid(OID.extensionRequest),
        der.set(der.sequence(subjectAltName(options.dnsNames, [], !fits))),
      ),
    ),
  );
  const bytes = await signed(request, keys.privateKey);
  return { der: bytes, pem: der.toPem("CERTIFICATE REQUEST", bytes) };
}

async function certificate(fields: {
  issuer: Issuer;
  subject: Bytes;
  spki: Bytes;
  notBefore: Date;
  days: number;
  extensions: Bytes[];
}): Promise<string> {
  if (!(fields.days > 0)) {
    throw new Error(`Cannot create certificate: days must be positive, got "${fields.days}"`);
  }
  const notAfter = new Date(fields.notBefore.getTime() + fields.days * DAY_MS);
  const tbs = der.sequence(
    der.explicit(0, der.smallInteger(2)),
    der.unsignedInteger(randomSerial()),
    signatureAlgorithm(),
    fields.issuer.name,
    der.sequence(der.time(fields.notBefore), der.time(notAfter)),
    fields.subject,
    fields.spki,
    der.explicit(3, der.sequence(...fields.extensions)),
  );
  return der.toPem("CERTIFICATE", await signed(tbs, fields.issuer.privateKey));
}

/** 16 random bytes with the top bit clear (positive) and the next set (always 16 bytes long). */
function randomSerial(): Bytes {
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] = (serial[0] & 0x7f) | 0x40;
  return serial;
}

function signatureAlgorithm(): Bytes {
  return der.sequence(der.oid(OID.ecdsaWithSha256));
}

/** Signs `body` and wraps it as body, algorithm, signature: the shape of both X.509 and CSRs. */
async function signed(body: Bytes, privateKey: CryptoKey): Promise<Bytes> {
  const params = { name: "ECDSA", hash: "SHA-256" };
  const p1363 = new Uint8Array(await crypto.subtle.sign(params, privateKey, body));
  const half = p1363.length / 2;
  const signature = der.sequence(
    der.unsignedInteger(p1363.subarray(0, half)),
    der.unsignedInteger(p1363.subarray(half)),
  );
  return der.sequence(body, signatureAlgorithm(), der.bitString(signature));
}

function distinguishedName(commonName: string): Bytes {
  if (commonName.length === 0 || commonName.length > MAX_COMMON_NAME) {
    throw new Error(
      `Cannot create certificate: common name "${commonName}" must be 1 to 64 characters`,
    );
  }
  return der.sequence(der.set(der.sequence(der.oid(OID.commonName), der.utf8String(commonName))));
}

function extension(id: string, critical: boolean, value: Bytes): Bytes {
  const flag = critical ? [der.boolean(true)] : [];
  return der.sequence(der.oid(id), ...flag, der.octetString(value));
}

function subjectAltName(dnsNames: string[], ipAddresses: string[], critical: boolean) {
  const names = dnsNames.map((dnsName) => {
    if (!/^[\x21-\x7e]+$/.test(dnsName)) {
      throw new Error(`Cannot create certificate: DNS name "${dnsName}" is not printable ASCII`);
    }
    return der.implicit(2, new TextEncoder().encode(dnsName));
  });
  const ips = ipAddresses.map((address) => der.implicit(7, ipAddressBytes(address)));
  return extension(OID.subjectAltName, critical, der.sequence(...names, ...ips));
}

/** SHA-1 of the subjectPublicKey bits: RFC 5280 method 1 for key identifiers. */
async function subjectKeyId(spki: Bytes): Promise<Bytes> {
  const [publicKeyInfo] = der.readElements(spki);
  const [, publicKeyBits] = der.readElements(publicKeyInfo.content);
  return new Uint8Array(await crypto.subtle.digest("SHA-1", publicKeyBits.content.subarray(1)));
}

/** Reads what signing needs from a CA: its subject as encoded, its key identifier, its key. */
async function readIssuer(ca: PemPair): Promise<Issuer> {
  if (!keyMatchesCertificate(ca.certPem, ca.keyPem)) {
    throw new Error(`Cannot create certificate: CA key does not match CA certificate`);
  }
  const [certificate] = der.readElements(der.fromPem("CERTIFICATE", ca.certPem));
  const [tbs] = der.readElements(certificate.content);
  const fields = der.readElements(tbs.content);
  const first = fields[0].tag === 0xa0 ? 1 : 0;
  const subject = fields[first + 4].encoded;
  const spki = fields[first + 5].encoded;
  const { privateKey } = await importKeyPair(ca.keyPem);
  return { name: subject, keyId: findKeyId(fields) ?? await subjectKeyId(spki), privateKey };
}

/** The subjectKeyIdentifier extension's value, when the certificate has one. */
function findKeyId(tbsFields: der.Element[]): Bytes | undefined {
  const extensions = tbsFields.find((field) => field.tag === 0xa3);
  if (!extensions) return undefined;
  const wanted = der.oid(OID.subjectKeyIdentifier).join();
  for (const ext of der.readElements(der.readElements(extensions.content)[0].content)) {
    const parts = der.readElements(ext.content);
    if (parts[0].encoded.join() === wanted) {
      return der.readElements(parts[parts.length - 1].content)[0].content;
    }
  }
  return undefined;
}

/** A new extractable EC P-256 key pair for signing. */
export function generateKeyPair(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]);
}

async function exportSpki(publicKey: CryptoKey): Promise<Bytes> {
  return new Uint8Array(await crypto.subtle.exportKey("spki", publicKey));
}

/** A private key as PKCS#8 PEM ("PRIVATE KEY"). */
export async function exportPkcs8(privateKey: CryptoKey): Promise<string> {
  return der.toPem(
    "PRIVATE KEY",
    new Uint8Array(await crypto.subtle.exportKey("pkcs8", privateKey)),
  );
}

/** Reads an EC P-256 PKCS#8 PEM private key, deriving its public key. */
export async function importKeyPair(keyPem: string): Promise<CryptoKeyPair> {
  let privateKey: CryptoKey;
  try {
    const pkcs8 = der.fromPem("PRIVATE KEY", keyPem);
    privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, EC_P256, true, ["sign"]);
  } catch (error) {
    throw new Error(`Cannot read private key: expected EC P-256 in PKCS#8 PEM`, { cause: error });
  }
  const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", privateKey);
  const publicKey = await crypto.subtle.importKey("jwk", { kty, crv, x, y }, EC_P256, true, [
    "verify",
  ]);
  return { privateKey, publicKey };
}
