/**
 * The `middlewares` section: named middlewares, each a map with exactly one kind key (checked
 * when resolving, resolve_middlewares.ts), referenced by routes and entrypoints by name.
 * docs/middlewares.md shows each kind with an example.
 *
 * @module
 */
import { def, list, map, obj, opt, req } from "./dsl.ts";
import { cidr, headerName, headerValue, hostName, statusRange, token } from "./net_values.ts";
import { bool, dur, int, name, oneOf, size, str, text } from "./values.ts";

/** The name of a middleware, as defined and as referenced. */
export const middlewareName = name(
  /^[A-Za-z0-9][A-Za-z0-9_.-]*$/,
  "a middleware name",
  `letters, digits, "_", "." and "-", starting with a letter or digit`,
);

/** A list of middleware names, applied in order. */
export const middlewareList = list(middlewareName, { unique: true });

/** Header edits: set (replacing) and remove. */
export const headerOps = obj({
  set: def(
    map(headerName({ settable: true }), headerValue(), { placeholder: "<header>" }),
    {},
    "Headers to set (replacing any value)",
  ),
  remove: def(list(headerName(), { unique: true }), [], "Headers to remove"),
});

const cidrs = list(cidr(), { unique: true, single: true, nonEmpty: "list at least one address" });

const ORIGIN = /^(?:\*|[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:\*\.)?[A-Za-z0-9_.-]+(?::[0-9]{1,5})?)$/;
const origin = text({
  expected: `an origin like "https://app.example.com", "https://*.example.com" or "*"`,
  type: "origin",
  pattern: ORIGIN,
  map: (o) => o.toLowerCase(),
});

const REFERRER_POLICIES = [
  "no-referrer",
  "no-referrer-when-downgrade",
  "origin",
  "origin-when-cross-origin",
  "same-origin",
  "strict-origin",
  "strict-origin-when-cross-origin",
  "unsafe-url",
] as const;

const cors = obj({
  allow_origins: def(
    list(origin, { single: true, unique: true, nonEmpty: "list at least one origin" }),
    ["*"],
    "Origins allowed: exact, `https://*.example.org` (one label of any name), or `*` (any)",
  ),
  allow_methods: def(
    list(token(`a method like "GET"`, (m) => m.toUpperCase()), { single: true, unique: true }),
    ["GET", "HEAD", "POST"],
    "Methods a preflight allows",
  ),
  allow_headers: def(
    list(
      text({
        expected: `a header name or "*"`,
        pattern: /^(?:\*|[!#$%&'*+.^_`|~0-9A-Za-z-]+)$/,
        map: (h) => h.toLowerCase(),
      }),
      { single: true, unique: true },
    ),
    [],
    "Request headers a preflight allows (`*`: any)",
  ),
  expose_headers: def(
    list(headerName(), { single: true, unique: true }),
    [],
    "Response headers scripts may read",
  ),
  allow_credentials: def(bool(), false, 'Allow cookies and credentials (not with origin "*")'),
  max_age: opt(dur(), "How long a browser may cache a preflight answer", "not said"),
}, "cors settings");

const headers = obj({
  hsts: opt(
    obj({
      max_age: def(int(0, 2 ** 31 - 1), 31536000, "Seconds browsers remember to use HTTPS"),
      include_subdomains: def(bool(), false, "Apply to every subdomain too"),
      preload: def(bool(), false, "Ask to be in the browsers' preload lists"),
    }, "hsts settings"),
    "Strict-Transport-Security on HTTPS answers ({} for the defaults)",
    "not sent",
  ),
  content_type_nosniff: def(bool(), false, "X-Content-Type-Options: nosniff"),
  frame_options: opt(oneOf(["DENY", "SAMEORIGIN"]), "X-Frame-Options", "not sent"),
  referrer_policy: opt(oneOf(REFERRER_POLICIES), "Referrer-Policy", "not sent"),
  content_security_policy: opt(headerValue(), "Content-Security-Policy", "not sent"),
  permissions_policy: opt(headerValue(), "Permissions-Policy", "not sent"),
  cors: opt(cors, "Cross-origin requests: preflights are answered here", "no CORS headers"),
  request: def(headerOps, {}, "Changes to request headers sent upstream"),
  response: def(headerOps, {}, "Changes to response headers (every answer, Gatehouse's too)"),
}, "headers settings");

const KEY = /^(?:client_ip|route|header:[!#$%&'*+.^_`|~0-9A-Za-z-]+)$/;
const limitKey = text({
  expected: `"client_ip", "route" or "header:<name>" like "header:X-Api-Key"`,
  type: "limit key",
  pattern: KEY,
  map: (k) => k.startsWith("header:") ? "header:" + k.slice(7).toLowerCase() : k,
});

const rateLimit = obj({
  average: req(int(1, 1_000_000_000), "Requests allowed per period, on average"),
  period: def(dur(), "1s", "The period of average"),
  burst: opt(int(1, 1_000_000_000), "Requests allowed at once (the bucket's size)", "average"),
  key: def(
    limitKey,
    "client_ip",
    `Whose bucket: "client_ip", "route" (one for all), "header:<name>" (else the client IP)`,
  ),
  max_keys: def(int(100, 10_000_000), 100_000, "Buckets kept; idle ones go first"),
}, "rate_limit settings");

const inFlightLimit = obj({
  amount: req(int(1, 1_000_000), "Requests in flight at once per key"),
  key: def(limitKey, "client_ip", `Whose count: as rate_limit's key`),
}, "in_flight_limit settings");

/** A JavaScript regular expression (no flags), compiled to check it. */
function regex(expected: string) {
  return text({
    expected,
    type: "regex",
    pattern: /^[\s\S]+$/,
    check(source) {
      try {
        new RegExp(source);
        return undefined;
      } catch (err) {
        return `Cannot compile the regex ${JSON.stringify(source)}: ${
          (err as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /, "")
        }`;
      }
    },
  });
}

const PATH = /^\/[^\s?#]*$/;
const path = text({ expected: `a path starting with "/"`, type: "path", pattern: PATH });
const TARGET_REPLACEMENT = /^(?:https?:\/\/[^\s#]+|\/[^\s#]*)$/;

const redirect = obj({
  regex: opt(
    regex(`a regex matched against the whole URL ("https://host/path?query")`),
    "Regex matched against the whole request URL (with replacement)",
  ),
  replacement: opt(
    text({
      expected: `a URL like "https://example.com/$1" or a path like "/new/$1"`,
      type: "URL template",
      pattern: TARGET_REPLACEMENT,
    }),
    "Where to (with regex): $1, $<name> insert the captures",
  ),
  scheme: opt(oneOf(["http", "https"]), "Scheme of the new URL"),
  host: opt(hostName(), "Host of the new URL"),
  port: opt(
    int(1, 65535),
    "Port of the new URL",
    "the scheme's default when it changes, else the request's",
  ),
  path: opt(path, "Path of the new URL (the query is kept)"),
  www: opt(
    oneOf(["add", "remove"]),
    `"add": to "www." + host; "remove": to the host without "www."`,
  ),
  status: def(int(301, 308), 302, "Status: 301, 302, 303, 307 or 308"),
}, "redirect settings");

const rewrite = obj({
  path: opt(path, "Replace the whole path"),
  regex: opt(regex(`a regex matched against the path`), "Regex on the path (with replacement)"),
  replacement: opt(
    text({ expected: `a path like "/v2/$1"`, type: "path template", pattern: PATH }),
    "The new path (with regex): $1, $<name> insert the captures",
  ),
  add_prefix: opt(path, "Put this in front of the path"),
  strip_regex: opt(
    regex(`a regex matched at the start of the path`),
    "Remove what this matches at the start of the path",
  ),
}, "rewrite settings");

const basicAuth = obj({
  users: def(
    list(
      text({
        expected: `"name:hash" with a bcrypt ($2y$...) or argon2id ($argon2id$...) hash`,
        type: "user:hash",
        pattern: /^[^:\s]+:\$\S+$/,
      }),
      { single: true, unique: true },
    ),
    [],
    `Users as "name:hash" (htpasswd -nB name, or argon2 ... -id -e)`,
  ),
  users_file: opt(
    str("a file path"),
    "An htpasswd file of name:hash lines (bcrypt or argon2id), relative to this file",
    "none",
  ),
  realm: def(
    text({ expected: "a realm of printable ASCII without quotes", pattern: /^[ !#-[\]-~]+$/ }),
    "Gatehouse",
    "Realm named in WWW-Authenticate",
  ),
  remove_header: def(bool(), true, "Remove Authorization before the upstream sees it"),
  user_header: opt(
    headerName({ settable: true }),
    "Header carrying the user name to the upstream (the client's own is removed)",
    "none",
  ),
}, "basic_auth settings");

const forwardAuth = obj({
  service: req(
    name(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "a service name", "defined under services"),
    "The auth service (an HTTP service of this file: its servers, TLS, retries)",
  ),
  path: def(
    text({ expected: `a path starting with "/" (a query allowed)`, pattern: /^\/[^\s#]*$/ }),
    "/",
    "Path and query of the subrequest (e.g. /oauth2/auth, /api/authz/forward-auth)",
  ),
  timeout: def(dur(), "5s", "The auth service's answer must arrive within this (else 504)"),
  request_headers: opt(
    list(headerName(), { unique: true }),
    "Fields of the client's request sent along (e.g. [cookie, authorization])",
    "all but hop-by-hop and framing fields",
  ),
  response_headers: def(
    list(headerName({ settable: true }), { unique: true }),
    [],
    "Fields of a 2xx answer copied to the upstream request (the client's own are removed)",
  ),
}, "forward_auth settings");

const errorPages = obj({
  status: req(
    list(statusRange(), { single: true, nonEmpty: "list at least one status or range" }),
    `Statuses whose answers get the page (400-599), e.g. ["500-599", 404]`,
  ),
  file: opt(
    str("a file path"),
    "The page, relative to this file; {status} and {reason} in it are filled in",
    "none",
  ),
  service: opt(
    name(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "a service name", "defined under services"),
    "A service that serves the pages (GET of `path`)",
    "none",
  ),
  path: def(
    text({ expected: `a path starting with "/"`, pattern: /^\/[^\s#]*$/ }),
    "/{status}.html",
    "Path asked of `service`; {status} is filled in",
  ),
  content_type: opt(
    headerValue(),
    "Content-Type of the page",
    "from the file's extension; text/html for a service",
  ),
  timeout: def(dur(), "5s", "The service's page must start within this (else the original body)"),
}, "errors settings");

const retry = obj({
  attempts: def(int(1, 10), 3, "Attempts in all, the first one included"),
  on: def(
    list(oneOf(["connect", "reset", "timeout"] as const), { single: true, unique: true }),
    ["connect", "reset"],
    "Failures retried: connect (refused or timed out), reset, timeout (response header)",
  ),
  backoff: def(dur(), "100ms", "Wait before the second attempt; doubled before each later one"),
}, "retry settings");

/** One named middleware: exactly one of these keys. */
export const middleware = obj({
  ip_allow: opt(cidrs, "Only clients in these CIDR blocks pass (others: 403)"),
  ip_deny: opt(cidrs, "Clients in these CIDR blocks are refused (403)"),
  headers: opt(headers, "Security headers, CORS and header edits"),
  body_limit: opt(size("1B", "1024GiB"), "Largest request body (413 above it)"),
  rate_limit: opt(rateLimit, "Token bucket per key: 429 with Retry-After over it"),
  in_flight_limit: opt(inFlightLimit, "Concurrent requests per key: 429 over it"),
  redirect: opt(redirect, "Answer with a redirect (regex, or scheme/host/port/path, or www)"),
  rewrite: opt(rewrite, "Change the path the upstream gets"),
  basic_auth: opt(basicAuth, "User name and password (bcrypt or argon2id hashes): 401 without"),
  forward_auth: opt(forwardAuth, "Ask an auth service; its non-2xx answers go to the client"),
  errors: opt(errorPages, "Custom error pages from a file or a service; the status is kept"),
  retry: opt(retry, "Attempts, failures retried and backoff (only when a retry is safe)"),
}, "middleware");

/** The top-level `middlewares` section. */
export const middlewaresSection = map(middlewareName, middleware, { placeholder: "<name>" });
