/**
 * Reading PEM certificates: the facts the proxy needs to pick, log and check a certificate.
 *
 * @module
 */
import { createPrivateKey, X509Certificate } from "node:crypto";

/** What the proxy needs to know about a certificate. */
export interface CertificateInfo {
  /** Subject distinguished name, e.g. "CN=localhost, O=Gatehouse". */
  subject: string;
  /** Issuer distinguished name, in the same form as `subject`. */
  issuer: string;
  /** Serial number in upper-case hex. */
  serial: string;
  notBefore: Date;
  notAfter: Date;
  /** DNS names from the subjectAltName extension, wildcards kept as written ("*.example.com"). */
  dnsNames: string[];
  /** IP addresses from the subjectAltName extension ("127.0.0.1", "::1"). */
  ipAddresses: string[];
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

function firstCertificate(pem: string, action: string): X509Certificate {
  const block = PEM_BLOCK.exec(pem);
  if (!block) throw new Error(`Cannot ${action}: no PEM block found`);
  try {
    return new X509Certificate(block[0]);
  } catch (error) {
    throw new Error(`Cannot ${action}: ${(error as Error).message}`, { cause: error });
  }
}

function distinguishedName(name: string): string {
  return name.split("\n").join(", ");
}

function subjectAltNames(altNames: string | undefined, prefix: string): string[] {
  if (!altNames) return [];
  return altNames.split(", ")
    .filter((entry) => entry.startsWith(prefix))
    .map((entry) => entry.slice(prefix.length));
}

/**
 * Parses the first certificate of a PEM file or chain.
 *
 * @throws Error "Cannot parse certificate: ..." when there is no PEM block or it is not X.509.
 */
export function parseCertificatePem(pem: string): CertificateInfo {
  const cert = firstCertificate(pem, "parse certificate");
  return {
    subject: distinguishedName(cert.subject),
    issuer: distinguishedName(cert.issuer),
    serial: cert.serialNumber.toUpperCase(),
    notBefore: cert.validFromDate,
    notAfter: cert.validToDate,
    dnsNames: subjectAltNames(cert.subjectAltName, "DNS:"),
    ipAddresses: subjectAltNames(cert.subjectAltName, "IP Address:"),
  };
}

/**
 * Tells whether `keyPem` is the private key for the first certificate in `certPem`.
 *
 * Returns false for a key of another algorithm; throws "Cannot match key to certificate: ..."
 * when either PEM cannot be read at all.
 */
export function keyMatchesCertificate(certPem: string, keyPem: string): boolean {
  const cert = firstCertificate(certPem, "match key to certificate");
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch (error) {
    throw new Error(`Cannot match key to certificate: key is not a readable private key`, {
      cause: error,
    });
  }
  return cert.checkPrivateKey(key);
}
