/**
 * The checks every request passes before anything else looks at it, for both front ends: the
 * method, the target's form, the one authority routing and the upstream see, HTTP/2's framing
 * fields, and header names with "_". See docs/security.md for the rules and why.
 *
 * Tested by framing_h1_test.ts, framing_h2_test.ts, authority_test.ts and rejection_test.ts.
 */
import { parseAuthority } from "./authority.ts";
import { HttpParseError, parseContentLength } from "../proto/h1/parse.ts";
import { listHasToken } from "../proto/header_list.ts";
import type { IncomingRequest } from "../proto/message.ts";
import { Rejection } from "../proto/rejection.ts";

/** What to do with a request field whose name holds "_" (forwarding.header_underscores). */
export type UnderscorePolicy = "drop" | "pass" | "reject";

export interface CheckedRequest {
  /** The authority routing and the upstream Host use: lowercase, "" when the client sent none. */
  readonly authority: string;
  /** Origin-form target (or "*" for OPTIONS). */
  readonly target: string;
  /** Fields removed for having "_" in their name. */
  readonly droppedHeaders: number;
}

/**
 * Checks `req` and settles its authority and target. On success the headers hold no Host field
 * (the upstream request gets its own) and no h2c upgrade offer; they may lose fields named with
 * "_" (policy "drop"). Returns a Rejection when the request must be refused.
 */
export function checkRequest(
  req: IncomingRequest,
  underscores: UnderscorePolicy,
): CheckedRequest | Rejection {
  if (req.method === "CONNECT") {
    return new Rejection(405, "connect", "CONNECT is refused: Gatehouse is not a forward proxy");
  }
  const settled = req.httpVersion === "2" ? h2Authority(req) : h1Authority(req);
  if (settled instanceof Rejection) return settled;
  const headers = req.headers;
  let droppedHeaders = 0;
  let named = 0;
  for (const key of headers.keys) if (key.indexOf("_") >= 0) named++;
  if (named > 0) {
    if (underscores === "reject") {
      return new Rejection(400, "underscore_header", 'header names with "_" are refused');
    }
    if (underscores === "drop") {
      headers.filter((key) => key.indexOf("_") < 0);
      droppedHeaders = named;
    }
  }
  if (req.httpVersion !== "2" && listHasToken(headers.getJoined("upgrade"), "h2c")) {
    // h2c smuggling: an upstream that upgrades would speak HTTP/2 with the client unchecked.
    headers.delete("upgrade");
    headers.delete("http2-settings");
  }
  headers.delete("host");
  return { ...settled, droppedHeaders };
}

type Settled = { readonly authority: string; readonly target: string };

/**
 * HTTP/1.x (RFC 9112 3.2, 3.2.2): one Host field (none allowed on HTTP/1.0), a valid authority;
 * an absolute-form target's authority replaces it.
 */
function h1Authority(req: IncomingRequest): Settled | Rejection {
  const headers = req.headers;
  let host: string | null = null;
  for (let i = 0; i < headers.keys.length; i++) {
    if (headers.keys[i] !== "host") continue;
    if (host !== null) return new Rejection(400, "host_repeated", "more than one Host field");
    host = headers.values[i];
  }
  if (host === null && req.httpVersion === "1.1") {
    return new Rejection(400, "host_missing", "an HTTP/1.1 request needs a Host field");
  }
  const hostAuthority = parseAuthority(host ?? "");
  if (hostAuthority === null) return new Rejection(400, "host_invalid", "Host is not a valid host");
  const target = req.target;
  if (target.charCodeAt(0) === 0x2f /* / */) return { authority: hostAuthority, target };
  if (target === "*") return asterisk(req, hostAuthority);
  const scheme = /^https?:\/\//i.exec(target);
  if (scheme === null) {
    return new Rejection(400, "bad_target", "the target is not a path or an http(s) URL");
  }
  const rest = target.slice(scheme[0].length);
  const end = rest.search(/[/?]/);
  const raw = end < 0 ? rest : rest.slice(0, end);
  if (raw.includes("@")) {
    return new Rejection(400, "userinfo", "a user name in the target's authority is refused");
  }
  const authority = parseAuthority(raw);
  if (authority === null || authority === "") {
    return new Rejection(400, "host_invalid", "the target's authority is not a valid host");
  }
  const path = end < 0 ? "/" : rest[end] === "?" ? "/" + rest.slice(end) : rest.slice(end);
  return { authority, target: path };
}

/**
 * HTTP/2 (RFC 9113 8.3.1): :authority without userinfo, a `host` field (if any) that agrees with
 * it, :path in origin form, and Content-Length fields that say one length.
 */
function h2Authority(req: IncomingRequest): Settled | Rejection {
  const pseudo = req.authority ?? "";
  if (pseudo.includes("@")) {
    return new Rejection(400, "userinfo", "a user name in :authority is refused");
  }
  const authority = parseAuthority(pseudo);
  if (authority === null) {
    return new Rejection(400, "host_invalid", ":authority is not a valid host");
  }
  const host = req.headers.getJoined("host");
  // hyper's Headers join repeated fields with ", ", which no valid host holds.
  if (host !== null && host.includes(",")) {
    return new Rejection(400, "host_repeated", "more than one host field");
  }
  if (host !== null && host.toLowerCase() !== authority) {
    return new Rejection(400, "host_mismatch", "the host field differs from :authority");
  }
  try {
    const length = parseContentLength(req.headers.getJoined("content-length"), 400);
    if (length !== null) req.headers.set("content-length", String(length));
  } catch (err) {
    const e = err as HttpParseError;
    return new Rejection(e.status, e.reason, e.message);
  }
  const target = req.target;
  if (target.charCodeAt(0) === 0x2f /* / */) return { authority, target };
  if (target === "*") return asterisk(req, authority);
  return new Rejection(400, "bad_target", ":path is not in origin form");
}

function asterisk(req: IncomingRequest, authority: string): Settled | Rejection {
  if (req.method === "OPTIONS") return { authority, target: "*" };
  return new Rejection(400, "bad_target", `"*" is a target for OPTIONS only`);
}
