/**
 * Certificate generation with `@peculiar/x509` over Web Crypto (no openssl): a CA, server
 * leaves signed by it, and PKCS#10 requests for ACME. Keys are EC P-256, signatures ECDSA with
 * SHA-256. docs/libraries.md says why this library and what it costs.
 *
 * @module
 */
import { keyMatchesCertificate } from "./certificate.ts";
import { ipAddressBytes } from "../net/ip_address.ts";
import type * as X509 from "@peculiar/x509";
import { loadX509, type X509Library } from "./x509.ts";

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
  der: Uint8Array<ArrayBuffer>;
  pem: string;
}

const EC_P256: EcKeyImportParams = { name: "ECDSA", namedCurve: "P-256" };
const SIGNING = { name: "ECDSA", hash: "SHA-256" };
const DAY_MS = 24 * 60 * 60 * 1000;
const MAX_COMMON_NAME = 64;

/** Creates a self-signed CA that may sign end-entity certificates only (path length 0). */
export async function createCa(options: CaOptions): Promise<PemPair> {
  const x509 = await loadX509();
  const name = distinguishedName(x509, options.commonName);
  const times = validity(options.notBefore ?? new Date(), options.days);
  const keys = await generateKeyPair();
  const cert = await x509.X509CertificateGenerator.create({
    ...times,
    serialNumber: randomSerial(),
    subject: name,
    issuer: name,
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: `${cert.toString("pem")}\n`, keyPem: await exportPkcs8(keys.privateKey) };
}

/** Creates a TLS server certificate for the given names, signed by `options.ca`. */
export async function createLeaf(options: LeafOptions): Promise<PemPair> {
  const ipAddresses = options.ipAddresses ?? [];
  if (options.dnsNames.length === 0 && ipAddresses.length === 0) {
    throw new Error(`Cannot create certificate: no DNS names or IP addresses given`);
  }
  const x509 = await loadX509();
  const altNames = subjectAltName(x509, options.dnsNames, ipAddresses, false);
  const subject = distinguishedName(x509, options.commonName);
  const times = validity(options.notBefore ?? new Date(), options.days);
  if (!keyMatchesCertificate(options.ca.certPem, options.ca.keyPem)) {
    throw new Error(`Cannot create certificate: CA key does not match CA certificate`);
  }
  const issuer = new x509.X509Certificate(options.ca.certPem);
  const { privateKey: signingKey } = await importKeyPair(options.ca.keyPem);
  const keys = await generateKeyPair();
  const cert = await x509.X509CertificateGenerator.create({
    ...times,
    serialNumber: randomSerial(),
    subject,
    // The issuer's subject exactly as it is encoded there: TLS stacks match names byte for byte.
    issuer: issuer.subjectName,
    publicKey: keys.publicKey,
    signingKey,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      altNames,
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      // The CA's own subjectKeyIdentifier when it has one, else computed from its key.
      await x509.AuthorityKeyIdentifierExtension.create(issuer),
    ],
  });
  return { certPem: `${cert.toString("pem")}\n`, keyPem: await exportPkcs8(keys.privateKey) };
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
  const x509 = await loadX509();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: fits ? distinguishedName(x509, first) : undefined,
    keys,
    signingAlgorithm: SIGNING,
    extensions: [subjectAltName(x509, options.dnsNames, [], !fits)],
  });
  return { der: new Uint8Array(csr.rawData), pem: `${csr.toString("pem")}\n` };
}

function validity(notBefore: Date, days: number): { notBefore: Date; notAfter: Date } {
  if (!(days > 0)) {
    throw new Error(`Cannot create certificate: days must be positive, got "${days}"`);
  }
  return { notBefore, notAfter: new Date(notBefore.getTime() + days * DAY_MS) };
}

/** 16 random bytes in hex, the top bit clear (positive) and the next set (always 16 bytes). */
function randomSerial(): string {
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] = (serial[0] & 0x7f) | 0x40;
  return serial.toHex();
}

/** CN=<commonName> as a UTF8String, as RFC 5280 asks of new certificates. */
function distinguishedName(x509: X509Library, commonName: string): X509.Name {
  if (commonName.length === 0 || commonName.length > MAX_COMMON_NAME) {
    throw new Error(
      `Cannot create certificate: common name "${commonName}" must be 1 to 64 characters`,
    );
  }
  return new x509.Name([{ CN: [{ utf8String: commonName }] }]);
}

function subjectAltName(
  x509: X509Library,
  dnsNames: string[],
  ipAddresses: string[],
  critical: boolean,
): X509.SubjectAlternativeNameExtension {
  const names = dnsNames.map((dnsName) => {
    if (!/^[\x21-\x7e]+$/.test(dnsName)) {
      throw new Error(`Cannot create certificate: DNS name "${dnsName}" is not printable ASCII`);
    }
    return { type: "dns" as const, value: dnsName };
  });
  // Parsed here, strictly, and handed over in a form the library reads right: its own parser
  // misreads IPv6 with an IPv4 tail ("::ffff:192.0.2.1").
  const ips = ipAddresses.map((address) => ({
    type: "ip" as const,
    value: ipAddressText(ipAddressBytes(address)),
  }));
  return new x509.SubjectAlternativeNameExtension([...names, ...ips], critical);
}

/** Dotted IPv4, or IPv6 as eight full hexadecimal groups. */
function ipAddressText(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join(".");
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return groups.join(":");
}

/** A new extractable EC P-256 key pair for signing. */
export function generateKeyPair(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]);
}

/** A private key as PKCS#8 PEM ("PRIVATE KEY"). */
export async function exportPkcs8(privateKey: CryptoKey): Promise<string> {
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", privateKey));
  const lines = pkcs8.toBase64().match(/.{1,64}/g) ?? [];
  return `-----BEGIN PRIVATE KEY-----\n${lines.join("\n")}\n-----END PRIVATE KEY-----\n`;
}

/** Reads an EC P-256 PKCS#8 PEM private key, deriving its public key. */
export async function importKeyPair(keyPem: string): Promise<CryptoKeyPair> {
  let privateKey: CryptoKey;
  try {
    const block = /-----BEGIN PRIVATE KEY-----([^-]*)-----END PRIVATE KEY-----/.exec(keyPem);
    if (block === null) throw new Error(`no "PRIVATE KEY" block found`);
    const pkcs8 = Uint8Array.fromBase64(block[1].replace(/\s+/g, ""));
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
