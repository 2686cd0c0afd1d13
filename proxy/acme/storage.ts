/**
 * ACME state on disk, one folder per CA directory so that staging and production never mix:
 *
 *   <storage>/<ca>/account.key                  account key (PKCS#8 PEM, mode 0600)
 *   <storage>/<ca>/certificates/<host>/key.pem  certificate key (mode 0600)
 *   <storage>/<ca>/certificates/<host>/cert.pem certificate chain, leaf first
 *
 * Every file is written to a temporary name, synced, then renamed over the old one, so a crash
 * leaves the old file or the new one, never half of one. The key is written before the chain;
 * a key that does not match its chain (a crash between the two) reads as no certificate.
 *
 * @module
 */
import { join } from "node:path";
import type { CertificateFile } from "../config/types.ts";
import { keyMatchesCertificate, parseCertificatePem } from "../pki/certificate.ts";
import { exportPkcs8, generateKeyPair, importKeyPair } from "../pki/generate.ts";

/** A certificate Gatehouse obtained, as served and as stored. */
export interface StoredCertificate {
  readonly file: CertificateFile;
  readonly notBefore: Date;
}

const encoder = new TextEncoder();

export class AcmeStorage {
  /** The folder of this CA's account and certificates. */
  readonly dir: string;

  constructor(root: string, directoryUrl: string) {
    this.dir = join(root, caFolder(directoryUrl));
  }

  get accountKeyFile(): string {
    return join(this.dir, "account.key");
  }

  /** The account key, created (and stored) on first use. */
  async accountKey(): Promise<CryptoKeyPair> {
    const existing = await readIfExists(this.accountKeyFile);
    if (existing !== null) return await importKeyPair(existing);
    const keys = await generateKeyPair();
    await writeAtomic(this.accountKeyFile, await exportPkcs8(keys.privateKey), 0o600);
    return keys;
  }

  /** Where the certificate for `host` lives. */
  paths(host: string): { certFile: string; keyFile: string } {
    const dir = join(this.dir, "certificates", host);
    return { certFile: join(dir, "cert.pem"), keyFile: join(dir, "key.pem") };
  }

  /**
   * The stored certificate for `host`, or null when there is none. Throws (with a message to
   * log) when the files exist but cannot be used: unreadable, key mismatch, name missing.
   */
  async load(host: string): Promise<StoredCertificate | null> {
    const { certFile, keyFile } = this.paths(host);
    const certPem = await readIfExists(certFile);
    const keyPem = await readIfExists(keyFile);
    if (certPem === null || keyPem === null) return null;
    return certificate(host, certPem, keyPem, certFile, keyFile);
  }

  /** Stores a new chain and key for `host` (key first) and returns it as served. */
  async save(host: string, certPem: string, keyPem: string): Promise<StoredCertificate> {
    const { certFile, keyFile } = this.paths(host);
    const stored = certificate(host, certPem, keyPem, certFile, keyFile);
    await writeAtomic(keyFile, keyPem, 0o600);
    await writeAtomic(certFile, certPem, 0o644);
    return stored;
  }
}

/** Checks a chain and key for `host` and describes them as a served certificate. */
export function certificate(
  host: string,
  certPem: string,
  keyPem: string,
  certFile: string,
  keyFile: string,
): StoredCertificate {
  const info = parseCertificatePem(certPem);
  if (!keyMatchesCertificate(certPem, keyPem)) {
    throw new Error(`Cannot use certificate ${certFile}: key ${keyFile} does not match it`);
  }
  if (!info.dnsNames.some((name) => name.toLowerCase() === host)) {
    throw new Error(
      `Cannot use certificate ${certFile}: it names ${info.dnsNames.join(", ")}, not "${host}"`,
    );
  }
  return {
    file: {
      name: `acme:${host}`,
      certFile,
      keyFile,
      certPem,
      keyPem,
      hosts: [host],
      subject: info.subject,
      serial: info.serial,
      notAfter: info.notAfter,
    },
    notBefore: info.notBefore,
  };
}

/** "acme-v02.api.letsencrypt.org_directory" for Let's Encrypt's production directory URL. */
export function caFolder(directoryUrl: string): string {
  const url = new URL(directoryUrl);
  return `${url.host}${url.pathname}`.replace(/[^A-Za-z0-9.-]+/g, "_").replace(/_+$/, "");
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw new Error(`Cannot read ${path}: ${problem(err, "read")}`);
  }
}

/** Writes `text` to a temporary file beside `path` with `mode`, syncs it, renames it over. */
export async function writeAtomic(path: string, text: string, mode: number): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf("/"));
  const temp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    const file = await Deno.open(temp, { write: true, createNew: true, mode });
    try {
      const bytes = encoder.encode(text);
      for (let written = 0; written < bytes.length;) {
        written += await file.write(bytes.subarray(written));
      }
      await file.syncData();
    } finally {
      file.close();
    }
    await Deno.chmod(temp, mode);
    await Deno.rename(temp, path);
  } catch (err) {
    await Deno.remove(temp).catch(() => {});
    throw new Error(`Cannot write ${path}: ${problem(err, "write")}`);
  }
}

function problem(err: unknown, access: "read" | "write"): string {
  if (err instanceof Deno.errors.NotCapable) {
    return `no ${access} permission (run with --allow-${access} for the acme storage folder)`;
  }
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  return err instanceof Error ? err.message : String(err);
}
