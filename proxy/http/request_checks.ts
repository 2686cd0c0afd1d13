/**
 * The checks every request passes before anything else looks at it, for both front ends: the
 * method (and fields that name another), the target's form (fragments and escapes:
 * target_rules.ts), the one authority routing and the upstream see, HTTP/2's framing fields, and
 * header names with "_". See
 * docs/security.md for the rules and why.
 *
 * Tested by framing_h1_test.ts, framing_h2_test.ts, authority_test.ts and rejection_test.ts.
 */
import { parseAuthority } from "./authority.ts";
import { listHasToken } from "../proto/header_list.ts";
import type { IncomingRequest } from "../proto/message.ts";
import { Rejection } from "../proto/rejection.ts";
import { targetProblem } from "./target_rules.ts";

/** What to do with a request field whose name holds "_" (forwarding.header_underscores). */
export type UnderscorePolicy = "drop" | "pass" | "reject";

/** The policies of `forwarding` the checks apply. */
export interface CheckPolicy {
  readonly headerUnderscores: UnderscorePolicy;
  /** Requests with a METHOD_OVERRIDE field: refused, or passed on. */
  readonly methodOverride: "refuse" | "pass";
}

/**
 * Fields that name another method than the request line's. Symfony (so Laravel) and Rack (so
 * Rails) act on X-HTTP-Method-Override in a POST by default, Express's method-override and
 * OData clients on these names: the upstream would run a DELETE that routing, `match.methods`
 * and the middlewares took for a POST.
 */
const METHOD_OVERRIDE = new Set(["x-http-method-override", "x-http-method", "x-method-override"]);

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
  policy: CheckPolicy,
): CheckedRequest | Rejection {
  if (hasLowerCase(req.method)) {
    return new Rejection(
      400,
      "bad_request_line",
      "a method with lower-case letters is refused: servers that upper-case methods " +
        "would read another request than routing did",
    );
  }
  if (req.method === "CONNECT") {
    return new Rejection(405, "connect", "CONNECT is refused: Gatehouse is not a forward proxy");
  }
  if (req.method === "TRACE") {
    // An upstream that answers TRACE echoes the request it got, with what Gatehouse added:
    // forwarding fields, and credentials a route's request_headers or forward_auth set.
    return new Rejection(405, "trace", "TRACE is refused: its echo would show what the proxy adds");
  }
  const settled = req.httpVersion === "2" ? h2Authority(req) : h1Authority(req);
  if (settled instanceof Rejection) return settled;
  const problem = targetProblem(settled.target);
  if (problem !== null) return problem;
  const headers = req.headers;
  let droppedHeaders = 0;
  let named = 0;
  let authorizations = 0;
  let overrides = 0;
  const underscores = policy.headerUnderscores;
  for (const key of headers.keys) {
    if (key.indexOf("_") >= 0) {
      named++;
      // CGI-style servers read X_HTTP_METHOD_OVERRIDE as X-HTTP-Method-Override.
      if (underscores === "pass" && METHOD_OVERRIDE.has(key.replaceAll("_", "-"))) overrides++;
    } else if (key === "authorization") authorizations++;
    else if (key.charCodeAt(0) === 0x78 /* x */ && METHOD_OVERRIDE.has(key)) overrides++;
  }
  if (overrides > 0 && policy.methodOverride === "refuse") {
    return new Rejection(
      400,
      "method_override",
      "a method override field (X-HTTP-Method-Override) is refused: frameworks act on its " +
        "method, not the one routing matched (forwarding.method_override: pass allows it)",
    );
  }
  if (authorizations > 1) {
    // One set of credentials: basic_auth, forward_auth's service and the upstream could each
    // take another of them (first, last, or joined). nginx refuses it too.
    return new Rejection(400, "header_repeated", "more than one Authorization field");
  }
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
 * HTTP/2: the engine has already reset what RFC 9113 calls malformed (proto/h2/fields.ts):
 * userinfo or a path in :authority, a `host` field naming another authority, a content-length
 * that is not one number, :path not origin-form (`*` for OPTIONS only). Left to check: the
 * authority's Host rules, and repeated `host` fields (identical ones pass the engine).
 */
function h2Authority(req: IncomingRequest): Settled | Rejection {
  const authority = parseAuthority(req.authority ?? "");
  if (authority === null) {
    return new Rejection(400, "host_invalid", ":authority is not a valid host");
  }
  const keys = req.headers.keys;
  const host = keys.indexOf("host");
  if (host >= 0 && keys.indexOf("host", host + 1) >= 0) {
    return new Rejection(400, "host_repeated", "more than one host field");
  }
  return { authority, target: req.target };
}

function asterisk(req: IncomingRequest, authority: string): Settled | Rejection {
  if (req.method === "OPTIONS") return { authority, target: "*" };
  return new Rejection(400, "bad_target", `"*" is a target for OPTIONS only`);
}

/**
 * True when `method` holds a-z. Methods are case-sensitive (RFC 9110 9.1), but Django, Werkzeug
 * and others upper-case them: "delete" would pass a route limited to DELETE and be served as one,
 * and "head" would be answered without the body Gatehouse waits for. nginx refuses them too.
 */
function hasLowerCase(method: string): boolean {
  for (let i = 0; i < method.length; i++) {
    const c = method.charCodeAt(i);
    if (c >= 0x61 && c <= 0x7a) return true;
  }
  return false;
}
