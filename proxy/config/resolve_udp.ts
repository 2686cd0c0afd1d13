/**
 * Resolving UDP forwarding: `udp_routes`, the settings UDP entrypoints cannot take, and the rule
 * that each UDP entrypoint has exactly one route, to a service of udp:// servers.
 *
 * Tested by resolve_udp_test.ts.
 *
 * @module
 */
import type { Context } from "./context.ts";
import { quote, type Segment } from "./errors.ts";
import { rawServiceProtocol } from "./resolve_tcp.ts";
import type { RawConfig, RawEntrypoint, RawUdpRoute } from "./schema.ts";
import type { UdpRoute } from "./types.ts";

/** Keys of an entrypoint a UDP entrypoint cannot have. */
export function checkUdpEntrypoint(ctx: Context, e: RawEntrypoint): void {
  if (e.protocol !== "udp") return;
  const path = ctx.path(e);
  const notForUdp: [string, string][] = [
    ["tls", `"tls" is for http and tcp entrypoints: UDP is forwarded as datagrams`],
    ["redirect", `"redirect" is for http entrypoints`],
    ["socket_file", `"socket_file" is for unix socket addresses, which UDP entrypoints cannot use`],
  ];
  for (const [key, message] of notForUdp) {
    const at: Segment[] = [...path, key];
    if (ctx.written(at)) ctx.error(at, message, "key");
  }
  if ("unix" in e.address) {
    ctx.error([...path, "address"], `a udp entrypoint listens on a host and port, not a socket`);
  }
}

function entrypointProblem(ctx: Context, raw: RawConfig, name: string): string | undefined {
  const e = raw.entrypoints.get(name);
  if (e === undefined) {
    if (ctx.written(["entrypoints", name])) return undefined;
    return `unknown entrypoint ${quote(name)} (known: ${[...raw.entrypoints.keys()].join(", ")})`;
  }
  if (e.protocol !== "udp") {
    return `entrypoint ${quote(name)} has protocol: ${e.protocol}; udp_routes need ` +
      `entrypoints with protocol: udp`;
  }
  return undefined;
}

function serviceProblem(ctx: Context, raw: RawConfig, name: string): string | undefined {
  const service = raw.services.get(name);
  if (service === undefined) {
    if (ctx.written(["services", name])) return undefined;
    const udp = [...raw.services].filter(([, s]) => rawServiceProtocol(s) === "udp");
    const known = udp.length === 0
      ? "no service has udp:// servers"
      : `udp services: ${udp.map(([n]) => n).join(", ")}`;
    return `unknown service ${quote(name)} (${known})`;
  }
  if (rawServiceProtocol(service) !== "udp") {
    return `service ${quote(name)} has ${rawServiceProtocol(service)} servers: udp_routes need ` +
      `a service with udp:// servers`;
  }
  return undefined;
}

function udpRoute(ctx: Context, raw: RawConfig, r: RawUdpRoute, index: number): UdpRoute {
  r.entrypoints.forEach((entrypoint, i) => {
    const problem = entrypointProblem(ctx, raw, entrypoint);
    if (problem) ctx.error(ctx.path(r, "entrypoints", i), problem);
  });
  const problem = serviceProblem(ctx, raw, r.service);
  if (problem) ctx.error(ctx.path(r, "service"), problem);
  return {
    name: r.name ?? `${r.entrypoints[0]}/udp`,
    index,
    entrypoints: r.entrypoints,
    service: r.service,
    idleTimeout: r.timeouts.idle,
    pos: ctx.locator.pos(ctx.path(r)),
  };
}

/** Resolves `udp_routes`; `taken` are the names of the other routes. */
export function udpRoutes(ctx: Context, raw: RawConfig, taken: ReadonlySet<string>): UdpRoute[] {
  const out = raw.udp_routes.map((r, i) => udpRoute(ctx, raw, r, i));
  const names = new Map<string, number>();
  const claims = new Map<string, number>();
  out.forEach((route) => {
    const r = raw.udp_routes[route.index];
    const other = names.get(route.name);
    if (taken.has(route.name) || other !== undefined) {
      const at = r.name === undefined ? ctx.path(r) : ctx.path(r, "name");
      ctx.error(at, `duplicate route name ${quote(route.name)}: give this route a "name"`);
    } else names.set(route.name, route.index);
    route.entrypoints.forEach((entrypoint, i) => {
      const first = claims.get(entrypoint);
      if (first === undefined) claims.set(entrypoint, route.index);
      else {
        ctx.error(
          ctx.path(r, "entrypoints", i),
          `entrypoint ${quote(entrypoint)} already has udp_routes[${first}]: one route each`,
        );
      }
    });
  });
  for (const [name, e] of raw.entrypoints) {
    if (e.protocol !== "udp" || claims.has(name)) continue;
    ctx.error(
      ["entrypoints", name],
      `udp entrypoint ${quote(name)} has no udp_routes: add one that lists it`,
      "key",
    );
  }
  return out;
}
