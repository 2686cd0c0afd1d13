/**
 * Resolving TCP streams: `tcp_routes`, the TCP settings of entrypoints, and which services are
 * TCP services (tcp:// servers) so that each kind of route points at its own kind of service.
 *
 * @module
 */
import type { Context } from "./context.ts";
import { quote, type Segment } from "./errors.ts";
import type { ServerScheme } from "./net_values.ts";
import type { RawConfig, RawEntrypoint, RawService, RawTcpRoute } from "./schema.ts";
import type { EntrypointProxyProtocol, Route, TcpRoute } from "./types.ts";

/** The kind of a server scheme: byte streams (tcp_routes), datagrams (udp_routes) or HTTP. */
export function schemeProtocol(scheme: ServerScheme): "http" | "tcp" | "udp" {
  if (scheme === "udp") return "udp";
  return scheme === "tcp" || scheme === "unix+tcp" ? "tcp" : "http";
}

/** The kind of the service's first server: "tcp" (tcp://, unix+tcp://), "udp", else "http". */
export function rawServiceProtocol(raw: RawService): "http" | "tcp" | "udp" {
  const first = raw.servers[0];
  if (first === undefined) return "http";
  const url = "weight" in first ? first.url : first;
  return schemeProtocol(url.scheme);
}

/** Checks a service's servers are of one kind and its settings fit that kind. */
export function serviceProtocol(ctx: Context, raw: RawService): "http" | "tcp" | "udp" {
  const protocol = rawServiceProtocol(raw);
  const path = ctx.path(raw);
  raw.servers.forEach((item, i) => {
    const url = "weight" in item ? item.url : item;
    if (schemeProtocol(url.scheme) !== protocol) {
      const first = raw.servers[0];
      const firstUrl = ("weight" in first ? first.url : first).url;
      ctx.error(
        [...path, "servers", i],
        `server ${quote(url.url)} does not match servers[0] ${quote(firstUrl)}: a service's ` +
          `servers are all byte streams (tcp://, unix+tcp://), all datagrams (udp://) or all ` +
          `HTTP (http://, https://, h2c://, unix://)`,
      );
    }
  });
  const check = raw.health_check;
  if (protocol === "http" && check && check.path === undefined && check.grpc === undefined) {
    ctx.error(
      ctx.path(check),
      `"path" is required for http services (only tcp services check with a TCP connect)`,
      "key",
    );
  }
  if (check && check.path !== undefined && check.grpc !== undefined) {
    ctx.error(ctx.path(check, "grpc"), `"grpc" and "path" exclude each other: keep one`, "key");
  }
  const h2 = (url: { scheme: string }) => url.scheme === "h2c" || raw.protocol === "h2";
  if (
    protocol === "http" && check?.grpc !== undefined &&
    !raw.servers.every((item) => h2("weight" in item ? item.url : item))
  ) {
    ctx.error(
      ctx.path(check, "grpc"),
      `a gRPC health check needs HTTP/2 to every server: use h2c:// servers or "protocol: h2"`,
      "key",
    );
  }
  if (protocol === "udp" && check) {
    if (check.send === undefined) {
      ctx.error(
        ctx.path(check),
        `"send" is required for udp services: the datagram to send`,
        "key",
      );
    }
    for (const key of ["path", "expect_status", "grpc"]) {
      const at = ctx.path(check, key);
      if (ctx.written(at)) ctx.error(at, `${quote(key)} is for http services only`, "key");
    }
  }
  if (protocol !== "udp" && check?.send !== undefined) {
    ctx.error(ctx.path(check, "send"), `"send" is for udp services only`, "key");
  }
  if (protocol !== "http") {
    const httpOnly: [readonly Segment[], string][] = [
      [[...path, "host"], `"host" applies to http services only`],
      [[...path, "keep_alive"], `"keep_alive" applies to http services only`],
      [[...path, "protocol"], `"protocol" applies to http services only`],
    ];
    if (check && protocol === "tcp") {
      httpOnly.push(
        [ctx.path(check, "path"), `"path" is for http services: a tcp service's check connects`],
        [ctx.path(check, "expect_status"), `"expect_status" is for http services only`],
        [ctx.path(check, "grpc"), `"grpc" is for http services only`],
      );
    }
    for (const [at, message] of httpOnly) if (ctx.written(at)) ctx.error(at, message, "key");
  }
  return protocol;
}

/** The TCP settings of an entrypoint, checked against its protocol. */
export function entrypointTcp(
  ctx: Context,
  raw: RawConfig,
  e: RawEntrypoint,
): { maxConnections: number; proxyProtocol: EntrypointProxyProtocol | null } {
  const path = ctx.path(e);
  if (e.protocol === "tcp") {
    if (e.redirect) ctx.error([...path, "redirect"], `"redirect" is for http entrypoints`, "key");
    if (e.tls && ctx.written([...path, "tls", "alpn"])) {
      ctx.error(
        [...path, "tls", "alpn"],
        `"alpn" is for http entrypoints: a tcp entrypoint offers no ALPN`,
        "key",
      );
    }
  } else if (e.proxy_protocol) {
    ctx.error(
      [...path, "proxy_protocol"],
      `"proxy_protocol" is supported on tcp entrypoints only`,
      "key",
    );
  }
  const target = e.redirect ? raw.entrypoints.get(e.redirect.to) : undefined;
  if (target?.protocol === "tcp") {
    ctx.error(
      ctx.path(e.redirect!, "to"),
      `entrypoint ${quote(e.redirect!.to)} is a tcp entrypoint: redirect to an http one`,
    );
  }
  return {
    maxConnections: e.max_connections,
    proxyProtocol: e.proxy_protocol ? { trusted: e.proxy_protocol.trusted } : null,
  };
}

/** Why `route` cannot be served on entrypoint `name`, if it cannot. */
function entrypointProblem(
  ctx: Context,
  raw: RawConfig,
  route: RawTcpRoute,
  name: string,
): string | undefined {
  const e = raw.entrypoints.get(name);
  if (e === undefined) {
    if (ctx.written(["entrypoints", name])) return undefined;
    return `unknown entrypoint ${quote(name)} (known: ${[...raw.entrypoints.keys()].join(", ")})`;
  }
  if (e.protocol === "udp") {
    return `entrypoint ${quote(name)} is a udp entrypoint: list it in udp_routes instead`;
  }
  if (e.protocol === "tcp") {
    if (route.sni && !route.passthrough && !e.tls) {
      return `entrypoint ${quote(name)} has no "tls", so "sni" needs "passthrough: true" ` +
        `(route TLS by name without terminating it), or add "tls" to the entrypoint`;
    }
    return undefined;
  }
  if (!e.tls) {
    return `entrypoint ${quote(name)} is an http entrypoint: list tcp entrypoints ` +
      `(or https ones, for passthrough routes with "sni")`;
  }
  if (!route.passthrough) {
    return `entrypoint ${quote(name)} serves HTTPS: only passthrough routes (with "sni") ` +
      `can share it`;
  }
  if (!route.sni) {
    return `a passthrough route on https entrypoint ${quote(name)} needs "sni" ` +
      `(without it, every connection would bypass HTTPS)`;
  }
  return undefined;
}

function serviceProblem(ctx: Context, raw: RawConfig, name: string): string | undefined {
  const service = raw.services.get(name);
  if (service === undefined) {
    if (ctx.written(["services", name])) return undefined;
    const tcp = [...raw.services].filter(([, s]) => rawServiceProtocol(s) === "tcp");
    const known = tcp.length === 0
      ? "no service has tcp:// or unix+tcp:// servers"
      : `tcp services: ${tcp.map(([n]) => n).join(", ")}`;
    return `unknown service ${quote(name)} (${known})`;
  }
  if (rawServiceProtocol(service) !== "tcp") {
    return `service ${quote(name)} has http servers: tcp_routes need a service with tcp:// ` +
      `(or unix+tcp://) servers`;
  }
  return undefined;
}

function tcpRoute(ctx: Context, raw: RawConfig, r: RawTcpRoute, index: number, name: string) {
  r.entrypoints.forEach((entrypoint, i) => {
    const problem = entrypointProblem(ctx, raw, r, entrypoint);
    if (problem) ctx.error(ctx.path(r, "entrypoints", i), problem);
  });
  const serviceError = serviceProblem(ctx, raw, r.service);
  if (serviceError) ctx.error(ctx.path(r, "service"), serviceError);
  const route: TcpRoute = {
    name,
    index,
    entrypoints: r.entrypoints,
    sni: r.sni ?? [],
    passthrough: r.passthrough,
    service: r.service,
    proxyProtocol: r.proxy_protocol,
    timeouts: { idle: r.timeouts.idle, connect: r.timeouts.connect },
    pos: ctx.locator.pos(ctx.path(r)),
  };
  return route;
}

/** Names: explicit ones unique across `routes` and `tcp_routes`, else `<entrypoint>/<sni>`. */
function names(ctx: Context, raw: RawConfig, httpRoutes: readonly Route[]): string[] {
  const taken = new Map<string, string>();
  httpRoutes.forEach((r) => taken.set(r.name, `routes[${r.index}]`));
  raw.tcp_routes.forEach((r, i) => {
    if (r.name === undefined) return;
    const other = taken.get(r.name);
    if (other) {
      ctx.error(ctx.path(r, "name"), `duplicate route name ${quote(r.name)} (also ${other})`);
    } else taken.set(r.name, `tcp_routes[${i}]`);
  });
  return raw.tcp_routes.map((r, i) => {
    if (r.name !== undefined) return r.name;
    let name = `${r.entrypoints[0]}/${r.sni?.[0] ?? "*"}`;
    if (taken.has(name)) name = `${name}#${i}`;
    taken.set(name, `tcp_routes[${i}]`);
    return name;
  });
}

/** On one entrypoint, a server name (or the default) is claimed by one route only. */
function overlaps(ctx: Context, raw: RawConfig, routes: readonly TcpRoute[]): void {
  const claims = new Map<string, number>();
  routes.forEach((route) => {
    const r = raw.tcp_routes[route.index];
    for (const entrypoint of route.entrypoints) {
      const names = route.sni.length === 0 ? [""] : route.sni;
      for (const sni of names) {
        const key = `${entrypoint}\u0000${sni}`;
        const other = claims.get(key);
        if (other === undefined) {
          claims.set(key, route.index);
        } else if (sni === "") {
          ctx.error(
            ctx.path(r),
            `entrypoint ${quote(entrypoint)} already has a default route ` +
              `(tcp_routes[${other}], without "sni"): give this one "sni"`,
          );
        } else {
          ctx.error(
            ctx.path(r, "sni"),
            `${quote(sni)} is already routed on entrypoint ${quote(entrypoint)} ` +
              `by tcp_routes[${other}]`,
          );
        }
      }
    }
  });
  // With the Docker provider on, container labels may bring the routes of a TCP entrypoint.
  if (raw.docker.enabled) return;
  for (const [name, e] of raw.entrypoints) {
    if (e.protocol !== "tcp" || routes.some((r) => r.entrypoints.includes(name))) continue;
    ctx.error(
      ["entrypoints", name],
      `tcp entrypoint ${quote(name)} has no tcp_routes: add one that lists it`,
      "key",
    );
  }
}

/** Resolves `tcp_routes`; `httpRoutes` are the resolved `routes` (for name clashes). */
export function tcpRoutes(
  ctx: Context,
  raw: RawConfig,
  httpRoutes: readonly Route[],
): TcpRoute[] {
  const routeNames = names(ctx, raw, httpRoutes);
  const out = raw.tcp_routes.map((r, i) => tcpRoute(ctx, raw, r, i, routeNames[i]));
  overlaps(ctx, raw, out);
  return out;
}
