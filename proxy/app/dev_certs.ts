/**
 * Development certificates at start and reload: when the config serves `DIR/localhost.crt`,
 * Gatehouse makes sure it exists, is valid, and names every `localhost` host the config routes
 * (pki/dev_ca.ts does the work; the CA is created once and then reused, so it stays trusted).
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import { type DevCertificates, ensureDevCertificates } from "../pki/dev_ca.ts";
import { decodeConfigFile } from "../config/load.ts";
import type { RawConfig } from "../config/schema.ts";
import type { ConfigFragment } from "../config/fragments.ts";

/** `localhost`, `app.localhost`, `*.api.localhost`: names only this machine resolves. */
function isLocalhostName(host: string): boolean {
  return host === "localhost" || host.endsWith(".localhost");
}

/**
 * The `localhost` names that the routes' `match.host` and the terminated TCP routes' `sni`
 * list, in file order, without repeats.
 */
export function routedLocalhostNames(raw: RawConfig): string[] {
  const names = [
    ...raw.routes.flatMap((route) => route.match.host),
    ...raw.tcp_routes.filter((route) => !route.passthrough).flatMap((route) => route.sni ?? []),
  ];
  return [...new Set(names.map((name) => name.toLowerCase()).filter(isLocalhostName))];
}

/**
 * The `localhost` names that routes from container labels list (`match.host`, and `sni` of TCP
 * routes that terminate TLS), without repeats: they go into the development certificate too.
 */
export function fragmentLocalhostNames(fragments: readonly ConfigFragment[]): string[] {
  const names: string[] = [];
  for (const item of fragments.flatMap((f) => f.items)) {
    const value = item.value as {
      match?: { host?: unknown };
      sni?: unknown;
      passthrough?: unknown;
    };
    const hosts = item.section === "routes"
      ? value.match?.host
      : item.section === "tcp_routes" && value.passthrough !== true
      ? value.sni
      : undefined;
    if (Array.isArray(hosts)) names.push(...hosts.map((h) => String(h).toLowerCase()));
  }
  return [...new Set(names.filter(isLocalhostName))];
}

/** Whether a TLS entrypoint of `raw` (read from `configDir`) serves `DIR/localhost.crt`. */
export function servesDevCertificate(raw: RawConfig, configDir: string, dir: string): boolean {
  const wanted = resolve(dir, "localhost.crt");
  for (const entrypoint of raw.entrypoints.values()) {
    for (const file of entrypoint.tls?.certificates ?? []) {
      if (resolve(configDir, file.cert) === wanted) return true;
    }
  }
  return false;
}

/**
 * Creates or renews the development CA and certificate in `dir` when the config at `configPath`
 * serves `DIR/localhost.crt`, adding the routed `localhost` names and `extraHosts`. Null when
 * the config does not use them, or cannot be decoded (loading it then says why).
 */
export async function ensureDevCertificatesFor(
  configPath: string,
  dir: string,
  extraHosts: readonly string[] = [],
): Promise<DevCertificates | null> {
  const raw = await decodeConfigFile(configPath);
  if (raw === undefined || !servesDevCertificate(raw, dirname(configPath), dir)) return null;
  return await ensureDevCertificates(dir, { hosts: [...routedLocalhostNames(raw), ...extraHosts] });
}

/** What a person should know after the files were created or renewed, or null if kept. */
export function devCertificateNotice(
  made: DevCertificates,
  httpsUrl: string | null,
): string | null {
  if (made.action === "kept") return null;
  const names = made.names.join(", ");
  if (made.action === "renewed") {
    return `Renewed the development certificate ${made.certPath} for ${names} (${made.reason})`;
  }
  const ca = made.caCertPath;
  const tryIt = httpsUrl === null ? "" : `, or try: curl --cacert ${ca} ${httpsUrl}/`;
  return `Created a development CA ${ca} and a certificate for ${names} (${made.reason}): ` +
    `trust the CA (certs/README.md says how)${tryIt}`;
}
