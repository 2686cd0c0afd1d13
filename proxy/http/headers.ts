/**
 * Header hygiene in one place: hop-by-hop removal (RFC 9110 7.6.1) in both directions,
 * X-Forwarded-* / Forwarded / Via on the way up, route header operations, request ids.
 */
import type { HeaderOps } from "../config/types.ts";
import { type HeaderList, listTokens } from "../proto/header_list.ts";
import type { ClientInfo, TrailerSource } from "../proto/message.ts";
import { isUnixAddress } from "../net/unix_socket.ts";
import { parseContentLength } from "../proto/h1/parse.ts";

/** Fields that describe one connection, never forwarded. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
  "proxy-authenticate",
  "proxy-authorization",
]);

/**
 * Removes hop-by-hop fields and every field the Connection header names. With `upgrade`, the
 * Upgrade field survives and Connection is set to "upgrade", as a tunnel needs.
 */
export function stripHopByHop(headers: HeaderList, upgrade: string | null = null): void {
  const named = listTokens(headers.getJoined("connection"));
  if (named.length === 0) {
    headers.filter((key) => !HOP_BY_HOP.has(key));
  } else {
    headers.filter((key) => !HOP_BY_HOP.has(key) && !named.includes(key));
  }
  if (upgrade !== null) {
    headers.appendLower("connection", "upgrade");
    headers.appendLower("upgrade", upgrade);
  }
}

/**
 * Content-Length as one field holding one plain number: an upstream's "5, 5", repeated fields or
 * leading zeros (all valid, RFC 9110 8.6; both upstream clients refuse other values on a message
 * framed by its length) are rewritten, so that no client gets a spelling it might read
 * differently. It matters where the field goes on as it is: HEAD and 304 answers, and HTTP/2
 * clients. A `transferEncoded` message (the upstream sent Transfer-Encoding, which overrides
 * Content-Length) loses the field, as RFC 9112 6.3 requires of an intermediary: its value was
 * never checked, and an HTTP/2 client would take it for the body's length.
 */
export function canonicalContentLength(headers: HeaderList, transferEncoded: boolean): void {
  const given = headers.getJoined("content-length");
  if (given === null || (!transferEncoded && PLAIN_LENGTH.test(given))) return;
  headers.delete("content-length");
  if (!transferEncoded) {
    headers.appendLower("content-length", String(parseContentLength(given, 502)));
  }
}

const PLAIN_LENGTH = /^(?:0|[1-9][0-9]{0,14})$/;

/**
 * Fields a trailer section may not carry on (RFC 9110 6.5.1): framing, routing, content
 * description, authentication, the hop-by-hop ones, and the proxy claims (`isProxyClaim`) and
 * Via, which Gatehouse sets itself on the way up (a recipient that merged them into the header
 * section would trust a client's copy).
 */
const NOT_IN_TRAILERS = new Set([
  ...HOP_BY_HOP,
  "content-length",
  "content-encoding",
  "content-type",
  "content-range",
  "host",
  "authorization",
  "cookie",
  "set-cookie",
  "expect",
  "range",
  "via",
]);

/**
 * `source` with the fields no trailer section may carry removed (see NOT_IN_TRAILERS), asked
 * for once: a writer and the access log may both ask.
 */
export function forwardTrailers(source: TrailerSource): TrailerSource {
  let out: Promise<HeaderList | null> | null = null;
  return () =>
    out ??= source().then((list) => {
      if (list === null) return null;
      list.filter((key) =>
        !NOT_IN_TRAILERS.has(key) && !isProxyClaim(key) && key.charCodeAt(0) !== 0x3a
      );
      return list.size === 0 ? null : list;
    });
}

export function applyHeaderOps(headers: HeaderList, ops: HeaderOps): void {
  for (const name of ops.remove) headers.delete(name);
  for (const [name, value] of ops.set) headers.set(name, value);
}

export interface ForwardedFacts {
  readonly client: ClientInfo;
  /** The client is a trusted proxy: its X-Forwarded-* and Forwarded are kept and extended. */
  readonly trusted: boolean;
  /** "https" or "http": the scheme the client used to reach us. */
  readonly proto: string;
  /** The authority the client asked for; "" when it sent none. */
  readonly host: string;
  /** "1.1 gatehouse" or "2 gatehouse". */
  readonly via: string;
  /**
   * The client's address as Gatehouse resolved it (client_ip.ts: from a trusted proxy's
   * X-Forwarded-For), for X-Real-IP when a trusted proxy sent none.
   */
  readonly clientIp: string;
}

/** The proxy claims (`isProxyClaim`) other than the X-Forwarded-* family. */
const PROXY_CLAIMS: ReadonlySet<string> = new Set([
  "forwarded",
  "x-real-ip",
  "true-client-ip",
  "cf-connecting-ip",
  "fastly-client-ip",
  "x-client-ip",
  "x-cluster-client-ip",
  "x-original-url",
  "x-rewrite-url",
  "x-original-method",
]);

/**
 * True for a field in which a proxy in front tells what the client's request was: its address
 * (X-Forwarded-For, Forwarded, X-Real-IP, and the CDNs' True-Client-IP, CF-Connecting-IP...),
 * scheme, host, port or path prefix (X-Forwarded-*), its URL or method (X-Original-URL,
 * X-Rewrite-URL, X-Original-Method: frameworks behind IIS take them for the request's path, auth
 * services for what to decide on). Applications believe them, so they are believed only from a
 * trusted proxy: a client could otherwise choose the address its limits and logs see, or the path
 * an upstream serves past the route that matched another.
 */
export function isProxyClaim(key: string): boolean {
  return key.startsWith("x-forwarded-") || PROXY_CLAIMS.has(key);
}

/**
 * Removes what a client that is not a trusted proxy claims as one (`isProxyClaim`). Done when a
 * request arrives (the checks phase), so that fields middlewares add later (an auth service's
 * X-Forwarded-User, say) stay.
 */
export function dropProxyClaims(headers: HeaderList): void {
  headers.filter((key) => !isProxyClaim(key));
}

/**
 * Sets X-Forwarded-For/Proto/Host, Forwarded, X-Real-IP and Via for the upstream: extended from
 * a trusted proxy, replaced otherwise. A client of a unix socket has no address: Forwarded says
 * `for=unknown` (RFC 7239 6.2), and X-Forwarded-For and X-Real-IP get no address (a trusted
 * front's are kept as they came; anyone else's are removed).
 */
export function applyForwarding(headers: HeaderList, f: ForwardedFacts): void {
  const unix = isUnixAddress(f.client.address);
  const ip = f.client.address;
  const forNode = unix ? "unknown" : ip.includes(":") ? `"[${ip}]"` : ip;
  const hostParam = f.host === "" ? "" : `;host=${quoteIfNeeded(f.host)}`;
  const element = `for=${forNode}${hostParam};proto=${f.proto}`;
  if (f.trusted) {
    const xff = headers.getJoined("x-forwarded-for");
    if (!unix) headers.set("x-forwarded-for", xff === null ? ip : xff + ", " + ip);
    if (!headers.has("x-forwarded-proto")) headers.appendLower("x-forwarded-proto", f.proto);
    if (!headers.has("x-forwarded-host") && f.host !== "") {
      headers.appendLower("x-forwarded-host", f.host);
    }
    const fwd = headers.getJoined("forwarded");
    headers.set("forwarded", fwd === null ? element : fwd + ", " + element);
    if (!headers.has("x-real-ip") && !isUnixAddress(f.clientIp)) {
      headers.appendLower("x-real-ip", f.clientIp);
    }
  } else {
    if (unix) headers.delete("x-forwarded-for");
    else headers.set("x-forwarded-for", ip);
    headers.set("x-forwarded-proto", f.proto);
    if (f.host === "") headers.delete("x-forwarded-host");
    else headers.set("x-forwarded-host", f.host);
    headers.set("forwarded", element);
    if (unix) headers.delete("x-real-ip");
    else headers.set("x-real-ip", ip);
  }
  const via = headers.getJoined("via");
  headers.set("via", via === null ? f.via : via + ", " + f.via);
}

const REQUEST_ID = /^[\x21-\x7e]{1,200}$/;

/** The request id to use: the client's if it is sane, else a new UUID. */
export function requestId(headers: HeaderList, name: string): string {
  const given = headers.get(name);
  if (given !== null && REQUEST_ID.test(given)) return given;
  const id = crypto.randomUUID();
  headers.set(name, id);
  return id;
}

function quoteIfNeeded(value: string): string {
  return /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(value) ? value : `"${value.replace(/"/g, "")}"`;
}
