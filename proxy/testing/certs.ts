/**
 * Test fixtures: one in-memory CA per test process and leaf certificates signed by it.
 *
 * ```ts
 * const pki = await testPki();
 * const { certPem, keyPem } = await pki.leaf("a.test");
 * await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [pki.caPem] });
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { createCa, createLeaf, type PemPair } from "../pki/generate.ts";
import { ipAddressBytes } from "../net/ip_address.ts";

/** Names with a ready-made leaf in `writeTestCerts`; `localhost` also covers 127.0.0.1 and ::1. */
export const TEST_HOSTS = ["localhost", "a.test", "*.b.test", "other.test"] as const;

/** The test CA and a way to get leaves from it. */
export interface TestPki {
  /** The CA certificate, for `caCerts` on clients. */
  caPem: string;
  /** The CA certificate and key, to sign more certificates with `createLeaf`. */
  ca: PemPair;
  /**
   * A leaf for the given DNS names and IP addresses (first name as CN), made once per process
   * per name list. Without names: localhost, 127.0.0.1 and ::1.
   */
  leaf(...names: string[]): Promise<PemPair>;
}

/** Paths of a certificate and its key on disk. */
export interface CertFiles {
  certPath: string;
  keyPath: string;
}

/** What `writeTestCerts` wrote. */
export interface TestCertPaths {
  caCertPath: string;
  leaves: Record<(typeof TEST_HOSTS)[number], CertFiles>;
}

let pki: Promise<TestPki> | undefined;

function isIpAddress(name: string): boolean {
  try {
    ipAddressBytes(name);
    return true;
  } catch {
    return false;
  }
}

async function makePki(): Promise<TestPki> {
  const ca = await createCa({ commonName: "Gatehouse Test CA", days: 30 });
  const leaves = new Map<string, Promise<PemPair>>();
  return {
    caPem: ca.certPem,
    ca,
    leaf(...names) {
      const wanted = names.length > 0 ? names : ["localhost", "127.0.0.1", "::1"];
      const key = wanted.join(",");
      let leaf = leaves.get(key);
      if (!leaf) {
        leaf = createLeaf({
          ca,
          commonName: wanted[0],
          dnsNames: wanted.filter((name) => !isIpAddress(name)),
          ipAddresses: wanted.filter(isIpAddress),
          days: 30,
        });
        leaves.set(key, leaf);
      }
      return leaf;
    },
  };
}

/** The process-wide test CA (created on first use). */
export function testPki(): Promise<TestPki> {
  pki ??= makePki();
  return pki;
}

/**
 * Writes the test CA certificate and a leaf per `TEST_HOSTS` name into `dir` (keys with mode
 * 0600), as `ca.crt`, `localhost.crt`/`.key`, `a.test.crt`, `_wildcard.b.test.crt` and so on.
 */
export async function writeTestCerts(dir: string): Promise<TestCertPaths> {
  const { caPem, leaf } = await testPki();
  await Deno.mkdir(dir, { recursive: true });
  const caCertPath = join(dir, "ca.crt");
  await Deno.writeTextFile(caCertPath, caPem);
  const entries = await Promise.all(TEST_HOSTS.map(async (host) => {
    const base = join(dir, host.replace("*", "_wildcard"));
    const files = { certPath: `${base}.crt`, keyPath: `${base}.key` };
    const { certPem, keyPem } = await (host === "localhost" ? leaf() : leaf(host));
    await Deno.writeTextFile(files.certPath, certPem);
    await Deno.writeTextFile(files.keyPath, keyPem, { mode: 0o600 });
    await Deno.chmod(files.keyPath, 0o600);
    return [host, files] as const;
  }));
  return { caCertPath, leaves: Object.fromEntries(entries) as TestCertPaths["leaves"] };
}
