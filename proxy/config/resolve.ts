/**
 * Turns the decoded YAML (schema.ts) into the `Config` the program reads: camelCase, files read,
 * cross references checked. Errors go to the context; the result is only used when there are none.
 *
 * @module
 */
import { resolve as resolvePath } from "node:path";
import type { Context } from "./context.ts";
import { quote, type Segment } from "./errors.ts";
import { routes, services } from "./resolve_routes.ts";
import { checkCodecMemory, compression } from "./resolve_compression.ts";
import { entrypointTcp, tcpRoutes } from "./resolve_tcp.ts";
import { acmeSettings } from "./resolve_acme.ts";
import { entrypointTls } from "./resolve_tls.ts";
import { entrypointUnix, socketConflicts } from "./resolve_unix.ts";
import { checkUdpEntrypoint, udpRoutes } from "./resolve_udp.ts";
import { dockerSettings } from "./schema_docker.ts";
import { checkReferences, middlewares } from "./resolve_middlewares.ts";
import type { RawConfig, RawEntrypoint } from "./schema.ts";
import type { Address, Config, Entrypoint, EntrypointRedirect } from "./types.ts";

function redirect(
  ctx: Context,
  raw: RawConfig,
  entrypoint: RawEntrypoint,
): EntrypointRedirect | null {
  const r = entrypoint.redirect;
  if (!r) return null;
  const path = ctx.path(r);
  if (entrypoint.tls) {
    ctx.error(
      path,
      `"redirect" only works on entrypoints without "tls": remove one of them`,
      "key",
    );
  }
  const target = raw.entrypoints.get(r.to);
  const withTls = [...raw.entrypoints].filter(([, e]) => e.tls).map(([name]) => name);
  const known = withTls.length
    ? `TLS entrypoints: ${withTls.join(", ")}`
    : `no entrypoint has "tls"`;
  if (target === undefined && !ctx.written(["entrypoints", r.to])) {
    ctx.error([...path, "to"], `unknown entrypoint ${quote(r.to)} (${known})`);
  } else if (target && !target.tls) {
    ctx.error([...path, "to"], `entrypoint ${quote(r.to)} has no "tls" (${known})`);
  } else if (target && "unix" in target.address) {
    ctx.error(
      [...path, "to"],
      `entrypoint ${quote(r.to)} listens on a unix socket: a redirect needs a host and port`,
    );
  }
  return { to: r.to, port: r.port ?? null };
}

const WILDCARDS = new Set(["0.0.0.0", "::"]);

/** "0.0.0.0:8080", "[::1]:8443". */
function formatAddress(address: Address): string {
  const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
  return `${host}:${address.port}`;
}

/** Two listeners on one port whose host names overlap cannot both bind (UDP ports are apart). */
function portConflicts(ctx: Context, raw: RawConfig): void {
  const listeners: {
    label: string;
    address: Address;
    path: readonly Segment[];
    udp?: boolean;
  }[] = [];
  for (const [name, e] of raw.entrypoints) {
    if ("unix" in e.address) continue;
    listeners.push({
      label: `entrypoint ${quote(name)}`,
      address: e.address,
      udp: e.protocol === "udp",
      path: ctx.path(e, "address"),
    });
  }
  if (raw.admin.address) {
    listeners.push({
      label: "the admin API",
      address: raw.admin.address,
      path: ["admin", "address"],
    });
  }
  listeners.forEach((b, j) => {
    const a = listeners.slice(0, j).find((a) =>
      a.address.port === b.address.port && b.address.port !== 0 && !a.udp === !b.udp &&
      (a.address.hostname === b.address.hostname || WILDCARDS.has(a.address.hostname) ||
        WILDCARDS.has(b.address.hostname))
    );
    if (a) {
      ctx.error(
        b.path,
        `port ${b.address.port} is already used by ${a.label} (${formatAddress(a.address)})`,
      );
    }
  });
}

/** The entrypoint's `h2c`, which only a plain http entrypoint has. */
function h2c(ctx: Context, e: RawEntrypoint): Entrypoint["h2c"] {
  if (e.h2c === undefined) return "on";
  const where = e.protocol === "tcp" ? "a tcp entrypoint" : e.tls ? "a TLS entrypoint" : null;
  if (where !== null) {
    const why = e.tls && e.protocol !== "tcp" ? " (TLS chooses HTTP/2 by ALPN: see tls.alpn)" : "";
    ctx.error(
      [...ctx.path(e), "h2c"],
      `"h2c" applies to plain http entrypoints, not ${where}${why}`,
      "key",
    );
  }
  return e.h2c;
}

/** The middlewares an entrypoint applies: only HTTP entrypoints that serve routes run them. */
function entrypointMiddlewares(ctx: Context, raw: RawConfig, e: RawEntrypoint): string[] {
  const names = e.middlewares;
  if (names.length === 0) return [];
  const path = ctx.path(e, "middlewares");
  if (e.protocol === "tcp") {
    ctx.error(path, `a tcp entrypoint runs no middlewares: remove "middlewares"`, "key");
  } else if (e.redirect) {
    ctx.error(path, `this entrypoint redirects every request, so no middleware runs here`, "key");
  }
  checkReferences(ctx, raw, names, path);
  return [...names];
}

async function entrypoints(ctx: Context, raw: RawConfig): Promise<Record<string, Entrypoint>> {
  const out: Record<string, Entrypoint> = {};
  for (const [name, e] of raw.entrypoints) {
    checkUdpEntrypoint(ctx, e);
    const unix = entrypointUnix(ctx, e);
    out[name] = {
      name,
      address: "unix" in e.address ? { hostname: "", port: 0 } : e.address,
      unix,
      protocol: e.protocol,
      tls: e.tls && e.protocol !== "udp" ? await entrypointTls(ctx, e.tls, e.protocol) : null,
      redirect: redirect(ctx, raw, e),
      h2c: h2c(ctx, e),
      ...entrypointTcp(ctx, raw, e),
      middlewares: entrypointMiddlewares(ctx, raw, e),
      pos: ctx.locator.pos(ctx.path(e), "key"),
    };
  }
  portConflicts(ctx, raw);
  socketConflicts(ctx, raw);
  return out;
}

/** Resolves a decoded config; `source` and `version` describe the file it came from. */
export async function resolve(
  ctx: Context,
  raw: RawConfig,
  meta: { source: string; version: string; file: string },
): Promise<Config> {
  ctx.files.add(resolvePath(meta.file));
  const { timeouts: t, limits, forwarding, not_found: notFound, log, admin, metrics } = raw;
  const httpRoutes = routes(ctx, raw);
  checkCodecMemory(ctx, raw);
  const streamRoutes = tcpRoutes(ctx, raw, httpRoutes);
  const taken = new Set([...httpRoutes, ...streamRoutes].map((r) => r.name));
  return {
    source: meta.source,
    version: meta.version,
    entrypoints: await entrypoints(ctx, raw),
    routes: httpRoutes,
    tcpRoutes: streamRoutes,
    udpRoutes: udpRoutes(ctx, raw, taken),
    services: await services(ctx, raw),
    middlewares: await middlewares(ctx, raw),
    acme: await acmeSettings(ctx, raw),
    timeouts: {
      headerRead: t.header_read,
      keepAliveIdle: t.keep_alive_idle,
      connect: t.connect,
      drain: t.drain,
      tlsHandshake: t.tls_handshake,
      bodyIdle: t.body_idle,
    },
    limits: {
      maxHeaderBytes: limits.max_header,
      maxBodyBytes: limits.max_body,
      maxConnections: limits.max_connections,
      maxConnectionsPerClient: limits.max_connections_per_client,
      maxRequestsInFlight: limits.max_requests_in_flight,
    },
    forwarding: {
      trustedProxies: forwarding.trusted_proxies.filter((p) => p !== "unix"),
      trustUnixClients: forwarding.trusted_proxies.includes("unix"),
      via: forwarding.via,
      requestIdHeader: forwarding.request_id_header,
      headerUnderscores: forwarding.header_underscores,
      methodOverride: forwarding.method_override,
      clientIpDepth: forwarding.client_ip_depth,
    },
    notFound: { status: notFound.status, body: notFound.body },
    log: {
      level: log.level,
      format: log.format,
      accessLog: { enabled: log.access_log.enabled, format: log.access_log.format },
    },
    admin: { address: admin.address, tokenEnv: admin.token_env ?? null },
    metrics: {
      enabled: metrics.enabled,
      routers: metrics.routers,
      services: metrics.services,
      perHost: metrics.per_host,
    },
    compression: compression(raw.compression),
    compressionMemory: raw.compression.max_memory,
    docker: dockerSettings(raw.docker),
    workers: raw.workers,
    files: [...ctx.files],
  };
}
