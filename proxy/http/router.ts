/**
 * Route matching for one entrypoint. The most specific route wins: host first (exact name, then
 * the `*.` wildcard one label up, then routes for any host), then the longest path prefix, then
 * routes that constrain the method, then those with more header conditions; equal routes keep
 * their order in the file. A route with `match.case_sensitive: false` compares its prefix with
 * the path with ASCII letters lowered on both sides.
 */
import type { Route } from "../config/types.ts";
import type { HeaderList } from "../proto/header_list.ts";
import { HostTable } from "../net/host_table.ts";

/** Per-host candidate lists cached, at most (host names come from clients). */
const CACHE_LIMIT = 1024;

export class Router {
  readonly #hosts = new HostTable<Route[]>();
  readonly #any: Route[] = [];
  readonly #cache = new Map<string, Route[]>();
  /** The lowered prefix of each route that matches in any case. */
  readonly #lowered = new Map<Route, string>();

  constructor(routes: readonly Route[], entrypoint: string) {
    for (const route of routes) {
      if (route.entrypoints.length > 0 && !route.entrypoints.includes(entrypoint)) continue;
      if (!route.match.caseSensitive) this.#lowered.set(route, lowerAscii(route.match.pathPrefix));
      if (route.match.hosts.length === 0) {
        this.#any.push(route);
        continue;
      }
      for (const host of route.match.hosts) {
        const list = this.#hosts.getOrCreate(host, () => []);
        if (!list.includes(route)) list.push(route);
      }
    }
    for (const list of [...this.#hosts.values(), this.#any]) {
      list.sort(byPathSpecificity);
    }
  }

  /** The route for a request, or null. `host` is lowercase without port; `path` is normalised. */
  match(host: string, path: string, method: string, headers: HeaderList): Route | null {
    let lowered: string | null = null;
    for (const route of this.#candidates(host)) {
      const m = route.match;
      if (
        m.caseSensitive
          ? !pathMatches(m.pathPrefix, path)
          : !pathMatches(this.#lowered.get(route)!, lowered ??= lowerAscii(path))
      ) continue;
      if (m.methods.length > 0 && !m.methods.includes(method)) continue;
      if (!headersMatch(m.headers, headers)) continue;
      return route;
    }
    return null;
  }

  #candidates(host: string): Route[] {
    const cached = this.#cache.get(host);
    if (cached) return cached;
    const out: Route[] = [];
    for (const list of this.#hosts.matchAll(host)) {
      for (const r of list) if (!out.includes(r)) out.push(r);
    }
    for (const r of this.#any) if (!out.includes(r)) out.push(r);
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(host, out);
    return out;
  }
}

function byPathSpecificity(a: Route, b: Route): number {
  return b.match.pathPrefix.length - a.match.pathPrefix.length ||
    Number(b.match.methods.length > 0) - Number(a.match.methods.length > 0) ||
    b.match.headers.length - a.match.headers.length ||
    a.index - b.index;
}

/**
 * Prefix match on segment boundaries: "/api" matches "/api", "/api/x" and "/api;v=1" (the
 * segment's parameters, which Java servers strip before their own routing), not "/apix".
 */
export function pathMatches(prefix: string, path: string): boolean {
  if (prefix === "/") return true;
  if (!path.startsWith(prefix)) return false;
  if (path.length === prefix.length) return true;
  const next = path.charCodeAt(prefix.length);
  return next === 47 /* / */ || next === 59 /* ; */;
}

/** `s` with A-Z lowered and nothing else changed (its length stays, for strip_prefix). */
function lowerAscii(s: string): string {
  return /[A-Z]/.test(s) ? s.replace(/[A-Z]+/g, (run) => run.toLowerCase()) : s;
}

function headersMatch(
  wanted: readonly { name: string; value: string | null }[],
  headers: HeaderList,
): boolean {
  for (const h of wanted) {
    const v = headers.getJoined(h.name);
    if (v === null || (h.value !== null && v !== h.value)) return false;
  }
  return true;
}

/** The host part of an authority ("Example.com:8443" -> "example.com", "[::1]:80" -> "::1"). */
export function hostOf(authority: string): string {
  if (authority.startsWith("[")) {
    const end = authority.indexOf("]");
    return end < 0 ? authority : authority.slice(1, end);
  }
  const colon = authority.lastIndexOf(":");
  const host = colon < 0 ? authority : authority.slice(0, colon);
  return host.endsWith(".") ? host.slice(0, -1) : host;
}

/**
 * The path used for matching: dot segments removed (RFC 3986 5.2.4), percent-encoded unreserved
 * characters decoded and runs of "/" merged, so neither "/%61pi/../api" nor "//api" can dodge a
 * route that "/api" hits (nginx, and servers behind it, merge slashes). Encoded slashes stay
 * encoded.
 */
export function normalizePath(path: string): string {
  let p = path.includes("//") ? path.replace(/\/{2,}/g, "/") : path;
  if (p.includes("%")) {
    p = p.replace(/%([0-9A-Fa-f]{2})/g, (m, hex: string) => {
      const c = parseInt(hex, 16);
      const unreserved = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
        (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e;
      return unreserved ? String.fromCharCode(c) : m.toUpperCase();
    });
  }
  if (!p.includes("/.")) return p;
  const out: string[] = [];
  const segments = p.split("/");
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i];
    if (s === ".") {
      if (i === segments.length - 1) out.push("");
    } else if (s === "..") {
      out.pop();
      if (i === segments.length - 1) out.push("");
    } else {
      out.push(s);
    }
  }
  return "/" + out.join("/");
}

/**
 * `target` with its path as routing read it (`path`, from normalizePath) and its query as sent;
 * `target` itself when normalising changed nothing, and "*" as it is.
 */
export function normalizedTarget(target: string, path: string): string {
  if (target === "*") return target;
  const q = target.indexOf("?");
  if (q < 0) return path;
  return path.length === q && target.startsWith(path) ? target : path + target.slice(q);
}
