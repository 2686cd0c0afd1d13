/**
 * Where a running Gatehouse can be reached, as URLs a person can paste: what the start-up line
 * lists. Unspecified addresses (":8443") are written as `localhost`.
 *
 * @module
 */
import type { Address, Config, Entrypoint } from "../config/types.ts";

/** A host for a URL: `localhost` for an unspecified address, brackets around IPv6. */
function urlHost(hostname: string): string {
  if (hostname === "0.0.0.0" || hostname === "::" || hostname === "") return "localhost";
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

function url(scheme: string, address: Address, port: number): string {
  return `${scheme}://${urlHost(address.hostname)}:${port}`;
}

function entrypointUrl(ep: Entrypoint, port: number): string {
  if (ep.unix !== null) {
    const served = ep.protocol === "tcp" ? (ep.tls ? "tls" : "tcp") : ep.tls ? "https" : "http";
    const where = `unix:${ep.unix.path} (${served})`;
    return ep.redirect ? `${where} -> redirect to ${ep.redirect.to}` : where;
  }
  if (ep.protocol === "tcp") return `${url(ep.tls ? "tls" : "tcp", ep.address, port)}`;
  const where = url(ep.tls ? "https" : "http", ep.address, port);
  return ep.redirect ? `${where} -> redirect to ${ep.redirect.to}` : where;
}

/**
 * Every listener of `config` as a URL, in file order, then the admin API: `https://localhost:8443`,
 * `http://localhost:8080 -> redirect to websecure`, `tcp://localhost:7000`,
 * `unix:/run/gh.sock (http)`, `admin http://127.0.0.1:9901`. `port` gives an entrypoint's bound port (the real one when the
 * config said 0); `adminPort` is null when the admin API is off.
 */
export function listenerUrls(
  config: Config,
  port: (entrypoint: string) => number | undefined,
  adminPort: number | null,
): string[] {
  const urls = Object.values(config.entrypoints).map((ep) =>
    entrypointUrl(ep, port(ep.name) ?? ep.address.port)
  );
  const admin = config.admin.address;
  if (admin !== null && adminPort !== null) urls.push(`admin ${url("http", admin, adminPort)}`);
  return urls;
}

/** The first HTTPS URL among the listeners, for hints like "try: curl ... URL/". */
export function firstHttpsUrl(urls: readonly string[]): string | null {
  return urls.find((u) => u.startsWith("https://")) ?? null;
}
