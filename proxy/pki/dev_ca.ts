/**
 * The development CA and its localhost certificate: created on first use, kept while valid,
 * renewed from the same CA near expiry or when names are added (so a CA trusted once stays
 * trusted). `deno task certs` (certs/mkcert.ts) and the first start (app/dev_certs.ts) use it.
 *
 * Tested by certs/mkcert_test.ts (which also runs the `deno task certs` command line).
 */
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { keyMatchesCertificate, parseCertificatePem } from "./certificate.ts";
import { createCa, createLeaf, type PemPair } from "./generate.ts";
import { ipAddressBytes } from "../net/ip_address.ts";

/** Names every development certificate covers. */
export const DEFAULT_HOSTS = ["localhost", "*.localhost", "127.0.0.1", "::1"];
const CA_DAYS = 3650;
const LEAF_DAYS = 397;
const RENEW_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;

/** Options for `ensureDevCertificates`. */
export interface DevCertificateOptions {
  /** Replace the CA and the leaf even when they are valid. */
  force?: boolean;
  /** Extra DNS names or IP addresses for the leaf, besides `DEFAULT_HOSTS` and its own names. */
  hosts?: string[];
  /** The current time; for tests. */
  now?: Date;
}

/** What `ensureDevCertificates` did and where the files are. */
export interface DevCertificates {
  /** "kept": nothing written; "renewed": new leaf from the existing CA; "created": new CA and leaf. */
  action: "kept" | "renewed" | "created";
  /** Why the files were kept or replaced, for people. */
  reason: string;
  caCertPath: string;
  caKeyPath: string;
  certPath: string;
  keyPath: string;
  /** The leaf's names and end of validity. */
  names: string[];
  notAfter: Date;
}

/** Makes sure `dir` holds a valid dev CA and localhost leaf, creating or renewing them. */
export async function ensureDevCertificates(
  dir: string,
  options: DevCertificateOptions = {},
): Promise<DevCertificates> {
  const now = options.now ?? new Date();
  const paths = {
    caCertPath: join(dir, "gatehouse-dev-ca.crt"),
    caKeyPath: join(dir, "gatehouse-dev-ca.key"),
    certPath: join(dir, "localhost.crt"),
    keyPath: join(dir, "localhost.key"),
  };
  const ca = await readPair(paths.caCertPath, paths.caKeyPath);
  const leaf = await readPair(paths.certPath, paths.keyPath);
  const names = uniqueNames([...DEFAULT_HOSTS, ...namesOf(leaf), ...(options.hosts ?? [])]);
  const caTrouble = options.force ? "--force given" : problemWithCa(ca, now, RENEW_DAYS);
  const leafTrouble = caTrouble ?? problemWithLeaf(leaf, ca, names, now);
  if (!leafTrouble && leaf) {
    const notAfter = parseCertificatePem(leaf.certPem).notAfter;
    const reason = `certificate is valid until ${day(notAfter)}, more than ${RENEW_DAYS} days`;
    return { action: "kept", reason, ...paths, names, notAfter };
  }

  await Deno.mkdir(dir, { recursive: true });
  const newCaReason = caTrouble ?? problemWithCa(ca, now, LEAF_DAYS);
  const issuer = ca && !newCaReason ? ca : await createDevCa(paths.caCertPath, paths.caKeyPath);
  const isIp = (name: string) => ipAddressOrUndefined(name) !== undefined;
  const created = await createLeaf({
    ca: issuer,
    commonName: names[0],
    dnsNames: names.filter((name) => !isIp(name)),
    ipAddresses: names.filter(isIp),
    days: LEAF_DAYS,
  });
  await writeAtomically(paths.keyPath, created.keyPem, 0o600);
  await writeAtomically(paths.certPath, created.certPem, 0o644);
  const notAfter = parseCertificatePem(created.certPem).notAfter;
  const action = newCaReason ? "created" : "renewed";
  const reason = newCaReason ?? leafTrouble ?? "no certificate yet";
  return { action, reason, ...paths, names, notAfter };
}

/** Shell commands that make the system, browsers and curl trust the CA at `caCertPath`. */
export function trustInstructions(caCertPath: string): string {
  const nss = `-A -t "C,," -n "Gatehouse Development CA" -i ${caCertPath}`;
  return [
    "Trust the CA once per machine (needs certutil from libnss3-tools / brew install nss):",
    `  Debian/Ubuntu: sudo cp ${caCertPath} /usr/local/share/ca-certificates/ && ` +
    `sudo update-ca-certificates`,
    `  macOS:         sudo security add-trusted-cert -d -r trustRoot ` +
    `-k /Library/Keychains/System.keychain ${caCertPath}`,
    `  Chrome/Linux:  certutil -d sql:$HOME/.pki/nssdb ${nss}`,
    `  Firefox:       for p in ~/.mozilla/firefox/*/; do certutil -d "sql:$p" ${nss}; done`,
    `  curl:          curl --cacert ${caCertPath} https://localhost:8443/`,
  ].join("\n");
}

async function createDevCa(certPath: string, keyPath: string): Promise<PemPair> {
  const ca = await createCa({ commonName: "Gatehouse Development CA", days: CA_DAYS });
  await writeAtomically(keyPath, ca.keyPem, 0o600);
  await writeAtomically(certPath, ca.certPem, 0o644);
  return ca;
}

async function readPair(certPath: string, keyPath: string): Promise<PemPair | undefined> {
  try {
    return { certPem: await Deno.readTextFile(certPath), keyPem: await Deno.readTextFile(keyPath) };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** Why `ca` cannot sign certificates that live `days` more days, or undefined if it can. */
function problemWithCa(ca: PemPair | undefined, now: Date, days: number): string | undefined {
  if (!ca) return "no CA yet";
  try {
    if (!keyMatchesCertificate(ca.certPem, ca.keyPem)) return "CA key does not match CA";
    const { notAfter } = parseCertificatePem(ca.certPem);
    if (notAfter.getTime() < now.getTime() + days * DAY_MS) {
      return `CA expires on ${day(notAfter)}, within ${days} days`;
    }
  } catch (error) {
    return (error as Error).message;
  }
  return undefined;
}

/** Why `leaf` needs replacing, or undefined if it is good for more than 30 days. */
function problemWithLeaf(
  leaf: PemPair | undefined,
  ca: PemPair | undefined,
  names: string[],
  now: Date,
): string | undefined {
  if (!leaf || !ca) return "no certificate yet";
  try {
    if (!keyMatchesCertificate(leaf.certPem, leaf.keyPem)) return "key does not match certificate";
    const issuer = new X509Certificate(ca.certPem);
    if (!new X509Certificate(leaf.certPem).verify(issuer.publicKey)) {
      return "certificate is not signed by the CA";
    }
    const info = parseCertificatePem(leaf.certPem);
    if (info.notAfter.getTime() < now.getTime() + RENEW_DAYS * DAY_MS) {
      return `certificate expires on ${day(info.notAfter)}, within ${RENEW_DAYS} days`;
    }
    const covered = new Set([
      ...info.dnsNames.map((name) => name.toLowerCase()),
      ...info.ipAddresses.map((address) => ipAddressOrUndefined(address)),
    ]);
    const missing = names.filter((name) =>
      !covered.has(ipAddressOrUndefined(name) ?? name.toLowerCase())
    );
    if (missing.length > 0) return `certificate lacks ${missing.map((n) => `"${n}"`).join(", ")}`;
  } catch (error) {
    return (error as Error).message;
  }
  return undefined;
}

/** The DNS names and IP addresses of a leaf that can be parsed, else none. */
function namesOf(leaf: PemPair | undefined): string[] {
  if (!leaf) return [];
  try {
    const { dnsNames, ipAddresses } = parseCertificatePem(leaf.certPem);
    return [...dnsNames, ...ipAddresses];
  } catch {
    return [];
  }
}

/** `names` in order without repeats: DNS names compared in lowercase, IP addresses by value. */
function uniqueNames(names: string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const name of names) {
    const key = ipAddressOrUndefined(name) ?? name.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(ipAddressOrUndefined(name) ? name : name.toLowerCase());
  }
  return out;
}

/** The canonical form of an IP address (its bytes), or undefined for a DNS name. */
function ipAddressOrUndefined(name: string): string | undefined {
  try {
    return `ip:${ipAddressBytes(name).join(".")}`;
  } catch {
    return undefined;
  }
}

/** The date part of `date` (YYYY-MM-DD). */
export function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** Writes `text` to a temporary file beside `path` with `mode`, then renames it over `path`. */
async function writeAtomically(path: string, text: string, mode: number): Promise<void> {
  const temp = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(temp, text, { mode, createNew: true });
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}
