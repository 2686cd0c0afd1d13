/**
 * `deno task certs`: a local development CA and a certificate for localhost signed by it.
 *
 * Valid files are kept; a leaf that expires within 30 days, lacks a requested name or does not
 * match its key or CA is replaced, reusing the CA (so it stays trusted) while that lives long
 * enough. `--force` replaces the CA too.
 *
 * @module
 */
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { keyMatchesCertificate, parseCertificatePem } from "../proxy/tls/certificate.ts";
import { createCa, createLeaf, type PemPair } from "../proxy/tls/generate.ts";
import { ipAddressBytes } from "../proxy/net/ip_address.ts";

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
  /** Extra DNS names or IP addresses for the leaf, besides `DEFAULT_HOSTS`. */
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
  const names = [...new Set([...DEFAULT_HOSTS, ...(options.hosts ?? [])])];
  const paths = {
    caCertPath: join(dir, "gatehouse-dev-ca.crt"),
    caKeyPath: join(dir, "gatehouse-dev-ca.key"),
    certPath: join(dir, "localhost.crt"),
    keyPath: join(dir, "localhost.key"),
  };
  const ca = await readPair(paths.caCertPath, paths.caKeyPath);
  const leaf = await readPair(paths.certPath, paths.keyPath);
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

/** The canonical form of an IP address (its bytes), or undefined for a DNS name. */
function ipAddressOrUndefined(name: string): string | undefined {
  try {
    return `ip:${ipAddressBytes(name).join(".")}`;
  } catch {
    return undefined;
  }
}

function day(date: Date): string {
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

const USAGE = `Usage: deno task certs [--force] [--dir DIR] [--hosts a.test,b.test]
  --dir DIR      where to write the files (default: certs)
  --hosts LIST   extra DNS names or IP addresses for the certificate, comma-separated
  --force        replace the CA and the certificate even when they are valid`;

async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        force: { type: "boolean", default: false },
        dir: { type: "string", default: "certs" },
        hosts: { type: "string", default: "" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    console.error(`Cannot parse arguments: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const hosts = values.hosts.split(",").map((host) => host.trim()).filter(Boolean);
  const result = await ensureDevCertificates(values.dir, { force: values.force, hosts });
  const headline = {
    kept: "Nothing to do, keeping the existing files",
    renewed: "Issued a new certificate from the existing CA",
    created: "Created a new CA and certificate; trust the new CA",
  }[result.action];
  console.log(`${headline} (${result.reason}):
  CA certificate: ${result.caCertPath}
  CA key:         ${result.caKeyPath} (keep private: it can sign for any name)
  Certificate:    ${result.certPath} (${result.names.join(", ")}; until ${day(result.notAfter)})
  Key:            ${result.keyPath}

${trustInstructions(result.caCertPath)}`);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    console.error((error as Error).message);
    Deno.exit(1);
  }
}
