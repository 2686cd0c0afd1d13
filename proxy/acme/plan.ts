/**
 * Which certificates ACME is asked for: the exact host names of the routes served on each TLS
 * entrypoint with `acme: true`, except names a certificate file already covers (files win),
 * wildcards (HTTP-01 cannot prove them; that takes DNS-01), IP addresses and localhost names.
 *
 * @module
 */
import type { Config } from "../config/types.ts";
import { CertStore } from "../tls/cert_store.ts";

/** What ACME should manage for a config. */
export interface AcmePlan {
  /** Host name -> the ACME entrypoints that serve it, in config order. */
  readonly hosts: ReadonlyMap<string, readonly string[]>;
  /** Route hosts on ACME entrypoints that get no certificate, and why (one per host). */
  readonly skipped: readonly { readonly host: string; readonly reason: string }[];
}

const IPV4 = /^\d+\.\d+\.\d+\.\d+$/;

/** Why `host` cannot have an ACME certificate, or null when it can. */
function unsupported(host: string): string | null {
  if (host.startsWith("*.")) {
    return "wildcard names need the DNS-01 challenge, which Gatehouse does not do: " +
      "give it a certificate file";
  }
  if (IPV4.test(host)) return "IP addresses are not requested: Gatehouse asks for DNS names";
  if (host === "localhost" || host.endsWith(".localhost")) {
    return "localhost names never resolve publicly, so no CA can validate them";
  }
  return null;
}

/** The plan for `config`; empty when no entrypoint has `tls.acme`. */
export function acmePlan(config: Config): AcmePlan {
  const hosts = new Map<string, string[]>();
  const skipped = new Map<string, string>();
  for (const ep of Object.values(config.entrypoints)) {
    if (!ep.tls?.acme) continue;
    const files = new CertStore(ep.tls);
    for (const route of config.routes) {
      if (route.entrypoints.length > 0 && !route.entrypoints.includes(ep.name)) continue;
      if (route.match.hosts.length === 0 || route.match.hosts.includes("*")) {
        skipped.set(
          `route "${route.name}"`,
          `it matches any host: list names in its match.host to get ACME certificates`,
        );
        continue;
      }
      for (const host of route.match.hosts) {
        if (files.covers(host)) continue;
        const reason = unsupported(host);
        if (reason !== null) {
          skipped.set(host, reason);
          continue;
        }
        const list = hosts.get(host) ?? [];
        if (!list.includes(ep.name)) list.push(ep.name);
        hosts.set(host, list);
      }
    }
  }
  return { hosts, skipped: [...skipped].map(([host, reason]) => ({ host, reason })) };
}
