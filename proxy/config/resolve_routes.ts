/**
 * Resolving routes and services: names, references between them, and per-item rules.
 *
 * @module
 */
import type { Context } from "./context.ts";
import { formatPath, quote, type Segment } from "./errors.ts";
import type { ServerUrl } from "./net_values.ts";
import { rawServiceProtocol, serviceProtocol } from "./resolve_tcp.ts";
import { checkSocketPermissions } from "./resolve_unix.ts";
import { upstreamTls } from "./resolve_tls.ts";
import { httpProtocol } from "./resolve_protocol.ts";
import { warnShadowedRoutes } from "./shadowed.ts";
import { checkReferences } from "./resolve_middlewares.ts";
import {
  METRICS_SERVICE,
  type RawConfig,
  type RawRoute,
  type RawService,
  WELCOME_SERVICE,
} from "./schema.ts";
import type { HeaderOps, Route, ServerRef, Service } from "./types.ts";
import { compression } from "./resolve_compression.ts";

/** "1m30s" from 90000: durations in messages, as a user would write them. */
function formatDuration(ms: number): string {
  const units: [string, number][] = [["h", 3_600_000], ["m", 60_000], ["s", 1000], ["ms", 1]];
  let rest = ms;
  let out = "";
  for (const [unit, size] of units) {
    const amount = Math.floor(rest / size);
    if (amount > 0) out += `${amount}${unit}`;
    rest -= amount * size;
  }
  return out || "0s";
}

function headerOps(
  ctx: Context,
  raw: RawRoute["request_headers"],
  request = false,
): HeaderOps {
  raw.remove.forEach((name, i) => {
    if (raw.set.has(name)) {
      ctx.error(ctx.path(raw, "remove", i), `header ${quote(name)} is both set and removed`);
    }
  });
  // The upstream Host comes from one decision (the service's "host"), never from header edits.
  const hostError = `Cannot change "host" here: set the service's "host" (preserve, upstream or ` +
    `a fixed value) instead`;
  if (request && raw.set.has("host")) ctx.error(ctx.path(raw, "set", "host"), hostError);
  raw.remove.forEach((name, i) => {
    if (request && name === "host") ctx.error(ctx.path(raw, "remove", i), hostError);
  });
  return { set: [...raw.set], remove: raw.remove };
}

/** Why a route cannot be served on entrypoint `name`, if it cannot. */
function entrypointProblem(ctx: Context, raw: RawConfig, name: string): string | undefined {
  const entrypoint = raw.entrypoints.get(name);
  if (entrypoint !== undefined && entrypoint.protocol !== "http") {
    const p = entrypoint.protocol;
    return `entrypoint ${quote(name)} is a ${p} entrypoint: list it in ${p}_routes instead`;
  }
  if (entrypoint?.redirect) {
    return `entrypoint ${quote(name)} redirects every request to ${
      quote(entrypoint.redirect.to)
    }, so no route runs there`;
  }
  if (entrypoint || ctx.written(["entrypoints", name])) return undefined;
  return `unknown entrypoint ${quote(name)} (known: ${[...raw.entrypoints.keys()].join(", ")})`;
}

function serviceProblem(ctx: Context, raw: RawConfig, name: string): string | undefined {
  const service = raw.services.get(name);
  if (service && rawServiceProtocol(service) !== "http") {
    const first = service.servers[0];
    const scheme = ("weight" in first ? first.url : first).scheme;
    return `service ${quote(name)} has ${scheme}:// servers: use it from ` +
      `${rawServiceProtocol(service)}_routes`;
  }
  if (
    name === WELCOME_SERVICE || name === METRICS_SERVICE || raw.services.has(name) ||
    ctx.written(["services", name])
  ) {
    return undefined;
  }
  const known = raw.services.size === 0
    ? "no services are defined"
    : `known: ${[...raw.services.keys()].join(", ")}`;
  return `unknown service ${quote(name)} (${known})`;
}

function route(ctx: Context, raw: RawConfig, r: RawRoute, index: number, name: string): Route {
  r.entrypoints.forEach((entrypoint, i) => {
    const problem = entrypointProblem(ctx, raw, entrypoint);
    if (problem) ctx.error(ctx.path(r, "entrypoints", i), problem);
  });
  checkReferences(ctx, raw, r.middlewares, ctx.path(r, "middlewares"));
  const serviceError = serviceProblem(ctx, raw, r.service);
  if (serviceError) ctx.error(ctx.path(r, "service"), serviceError);
  const m = r.match;
  if (r.strip_prefix && m.path === "/") {
    ctx.error(ctx.path(r, "strip_prefix"), `"strip_prefix" needs a "match.path" other than "/"`);
  }
  if (r.strip_prefix && r.forward_path === "as_sent") {
    ctx.error(
      ctx.path(r, "forward_path"),
      `"forward_path: as_sent" cannot be combined with "strip_prefix": the prefix is matched, ` +
        `and cut, on the normalized path (remove one of the two)`,
    );
  }
  const underscores = raw.forwarding.header_underscores;
  for (const header of m.headers.keys()) {
    if (header === "host") {
      ctx.error(ctx.path(m, "headers", header), `match the host with "match.host"`);
    }
    if (underscores !== "pass" && header.includes("_")) {
      ctx.error(
        ctx.path(m, "headers", header),
        `header ${quote(header)} never reaches routing: forwarding.header_underscores is ` +
          `"${underscores}" (set it to "pass" to match on it)`,
      );
    }
  }
  return {
    name,
    index,
    entrypoints: r.entrypoints,
    match: {
      hosts: m.host.includes("*") ? [] : m.host,
      pathPrefix: m.path,
      caseSensitive: m.case_sensitive,
      methods: m.methods,
      headers: [...m.headers].map(([header, value]) => ({ name: header, value })),
    },
    service: r.service,
    stripPrefix: r.strip_prefix,
    forwardPath: r.forward_path,
    allowEncoded: r.allow_encoded,
    requestHeaders: headerOps(ctx, r.request_headers, true),
    responseHeaders: headerOps(ctx, r.response_headers),
    timeouts: {
      responseHeader: r.timeouts.response_header,
      bodyIdle: r.timeouts.body_idle,
      tunnelIdle: r.timeouts.tunnel_idle,
    },
    upgrade: r.upgrade,
    maxBodyBytes: r.max_body,
    compression: r.compression === null ? null : compression(r.compression),
    middlewares: r.middlewares,
    pos: ctx.locator.pos(ctx.path(r)),
  };
}

/** Resolves routes: names (explicit, else derived from the match), references, rules. */
export function routes(ctx: Context, raw: RawConfig): Route[] {
  const explicit = new Map<string, readonly Segment[]>();
  for (const r of raw.routes) {
    if (r.name === undefined) continue;
    const other = explicit.get(r.name);
    if (other) {
      const { line, col, label } = ctx.locator.pos([...other, "name"]);
      const also = label
        ? `container ${quote(label.container)}`
        : `${formatPath(other)} at ${line}:${col}`;
      ctx.error(ctx.path(r, "name"), `duplicate route name ${quote(r.name)} (also ${also})`);
    } else explicit.set(r.name, ctx.path(r));
  }
  const taken = new Set(explicit.keys());
  const resolved = raw.routes.map((r, index) => {
    let name = r.name;
    if (name === undefined) {
      const host = r.match.host.includes("*") ? "*" : r.match.host[0] ?? "*";
      name = `${host}${r.match.path}`;
      if (taken.has(name)) name = `${name}#${index}`;
      taken.add(name);
    }
    return route(ctx, raw, r, index, name);
  });
  warnShadowedRoutes(ctx, raw.routes, resolved);
  return resolved;
}

type RawServer = RawService["servers"][number];

function serverRef(item: RawServer): ServerRef {
  const { url, weight } = "weight" in item ? item : { url: item as ServerUrl, weight: 1 };
  const { scheme, hostname, port, path } = url;
  return { url: url.url, scheme, hostname, port, path, weight };
}

async function service(ctx: Context, name: string, raw: RawService): Promise<Service> {
  const path = ctx.path(raw);
  const servers: ServerRef[] = [];
  const firstIndex = new Map<string, number>();
  raw.servers.forEach((item, i) => {
    const server = serverRef(item);
    const first = firstIndex.get(server.url);
    if (first === undefined) {
      firstIndex.set(server.url, i);
      servers.push(server);
    } else {
      ctx.error(
        [...path, "servers", i],
        `duplicate server ${quote(server.url)} (also servers[${first}])`,
      );
    }
    if (server.path !== null) {
      const at = [...path, "servers", i, ...("weight" in item ? ["url"] : [])];
      checkSocketPermissions(ctx, at, server.path, "connect to");
    }
  });
  const check = raw.health_check;
  if (check && check.timeout >= check.interval) {
    const [timeout, interval] = [formatDuration(check.timeout), formatDuration(check.interval)];
    ctx.error(
      ctx.path(check, "timeout"),
      `timeout (${timeout}) must be shorter than interval (${interval})`,
    );
  }
  const passive = raw.passive_health;
  return {
    name,
    protocol: serviceProtocol(ctx, raw),
    servers,
    balancing: raw.balancing,
    healthCheck: check
      ? {
        path: check.path ?? null,
        grpcService: check.grpc ?? null,
        interval: check.interval,
        timeout: check.timeout,
        healthyThreshold: check.healthy_threshold,
        unhealthyThreshold: check.unhealthy_threshold,
        expectStatus: check.expect_status,
        send: check.send ?? null,
      }
      : null,
    passiveHealth: passive
      ? { maxFailures: passive.max_failures, window: passive.window, ejectFor: passive.eject_for }
      : null,
    tls: await upstreamTls(ctx, raw, servers.some((s) => s.scheme === "https")),
    host: raw.host,
    retries: raw.retries,
    keepAlive: {
      maxIdlePerServer: raw.keep_alive.max_idle_per_server,
      idleTimeout: raw.keep_alive.idle_timeout,
    },
    httpProtocol: httpProtocol(ctx, raw),
    pos: ctx.locator.pos(path, "key"),
  };
}

/** Resolves every service, in file order. */
export async function services(ctx: Context, raw: RawConfig): Promise<Record<string, Service>> {
  const out: Record<string, Service> = {};
  for (const [name, s] of raw.services) out[name] = await service(ctx, name, s);
  return out;
}
