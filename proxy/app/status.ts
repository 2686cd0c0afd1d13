/**
 * The admin /status document: what runs, from which file, and how healthy it is.
 *
 * Tested by admin/status_test.ts.
 */
import type { AcmeHostStatus } from "../acme/manager.ts";
import type { Config } from "../config/types.ts";
import type { Snapshot } from "../http/context.ts";
import type { ReloadResult } from "./reloader.ts";
import { monotonicNow } from "../clock.ts";

export interface StatusInput {
  readonly snapshot: Snapshot;
  readonly startedAt: Date;
  readonly draining: boolean;
  /** Isolates carrying the traffic: 1, or the number of worker isolates. */
  readonly workers: number;
  readonly lastReload: ReloadResult | null;
  /** Open client connections per entrypoint. */
  readonly connections: (entrypoint: string) => number;
  /**
   * Requests in flight and upstream connections per server, by `${service} ${url}`, when other
   * isolates carry the traffic (worker isolates); else the snapshot's own servers say.
   */
  readonly loads?: ReadonlyMap<string, { inflight: number; open: number; idle: number }>;
  /** Host names with certificates from ACME. */
  readonly acme?: readonly AcmeHostStatus[];
  /** The Docker provider (app/docker_source.ts); null or absent when it is off. */
  readonly docker?: unknown;
}

export function statusDocument(input: StatusInput): unknown {
  const { snapshot } = input;
  const config: Config = snapshot.config;
  return {
    version: config.version,
    source: config.source,
    startedAt: input.startedAt.toISOString(),
    uptimeSeconds: Math.round((Date.now() - input.startedAt.getTime()) / 1000),
    draining: input.draining,
    workers: input.workers,
    lastReload: input.lastReload,
    entrypoints: Object.values(config.entrypoints).map((ep) => ({
      name: ep.name,
      address: ep.unix === null
        ? `${ep.address.hostname}:${ep.address.port}`
        : `unix:${ep.unix.path}`,
      port: snapshot.port(ep.name) ?? null,
      protocol: ep.protocol,
      redirect: ep.redirect,
      openConnections: input.connections(ep.name),
      tls: ep.tls === null ? null : {
        defaultCertificate: ep.tls.defaultCertificate ?? "reject",
        alpn: ep.tls.alpn,
        certificates: ep.tls.certificates.map((c) => ({
          name: c.name,
          hosts: c.hosts,
          subject: c.subject,
          serial: c.serial,
          notAfter: c.notAfter.toISOString(),
          file: c.certFile,
        })),
      },
    })),
    acme: input.acme?.length
      ? { directory: config.acme.directory, storage: config.acme.storage, hosts: input.acme }
      : null,
    docker: input.docker ?? null,
    routes: config.routes.map((r) => ({
      name: r.name,
      container: r.pos.label?.container ?? null,
      entrypoints: r.entrypoints.length > 0 ? r.entrypoints : "all",
      match: r.match,
      service: r.service,
      stripPrefix: r.stripPrefix,
      allowEncoded: r.allowEncoded,
      upgrade: r.upgrade,
    })),
    tcpRoutes: config.tcpRoutes.map((r) => ({
      name: r.name,
      container: r.pos.label?.container ?? null,
      entrypoints: r.entrypoints,
      sni: r.sni.length > 0 ? r.sni : "default",
      passthrough: r.passthrough,
      service: r.service,
      proxyProtocol: r.proxyProtocol,
    })),
    services: [...snapshot.services.values()].map((s) => ({
      name: s.name,
      container: s.config.pos.label?.container ?? null,
      balancing: s.config.balancing,
      healthCheck: s.config.healthCheck !== null,
      servers: s.servers.map((server) => ({
        ...connectionsOf(
          input.loads?.get(`${s.name} ${server.url}`) ?? s.transport(server).connections(),
        ),
        url: server.url,
        weight: server.weight,
        up: server.isUp(),
        healthy: server.healthy,
        ejectedUntil: ejectionEnd(server.ejectedUntil),
        inflight: input.loads?.get(`${s.name} ${server.url}`)?.inflight ?? server.inflight,
      })),
    })),
  };
}

function connectionsOf(c: { open: number; idle: number }) {
  return { openConnections: c.open, idleConnections: c.idle };
}

/** When an ejection (a monotonicNow() time) ends, as a wall-clock ISO time; null when over. */
export function ejectionEnd(until: number): string | null {
  const left = until - monotonicNow();
  return left > 0 ? new Date(Date.now() + left).toISOString() : null;
}
