/**
 * The YAML file, described once: every key, its type, default and meaning. The validator, the
 * JSON Schema (config/gatehouse.schema.json) and the reference (config/REFERENCE.md) all read it.
 * Defaults live here and only here.
 *
 * @module
 */
import type { EncodedChar } from "./types.ts";
import { def, fail, inherit, list, map, obj, opt, type Out, req, scalar, union } from "./dsl.ts";
import {
  address,
  headerMatch,
  headerName,
  hostHeader,
  hostName,
  hostPattern,
  listenAddress,
  serverUrl,
  statusRange,
  tlsVersion,
  token,
  trustedProxy,
} from "./net_values.ts";
import {
  autoOrInt,
  bool,
  disabled,
  dur,
  int,
  name,
  oneOf,
  size,
  sizeOrOff,
  str,
  text,
} from "./values.ts";
import { entrypointProxyProtocol, tcpRoute } from "./schema_tcp.ts";
import { compressionSection, routeCompression } from "./schema_compression.ts";
import { acmeSection, entrypointAcme } from "./schema_acme.ts";
import { socketFile } from "./schema_unix.ts";
import { udpRoute } from "./schema_udp.ts";
import { dockerSection } from "./schema_docker.ts";
import { headerOps, middlewareList, middlewaresSection } from "./schema_middlewares.ts";

/** Most worker isolates a config may ask for. */
export const MAX_WORKERS = 256;

const ENCODED_CHARS = [
  "slash",
  "backslash",
  "semicolon",
  "percent",
  "question_mark",
  "hash",
] as const satisfies readonly EncodedChar[];

const NAME_RULE = `letters, digits, "_", "." and "-", starting with a letter or digit`;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

const entrypointName = name(
  /^[a-z0-9][a-z0-9_-]*$/,
  "an entrypoint name",
  `lowercase letters, digits, "_" and "-", starting with a letter or digit`,
);
const routeName = name(NAME, "a route name", NAME_RULE);
const certificateName = name(NAME, "a certificate name", NAME_RULE);

const plainServiceName = name(NAME, "a service name", NAME_RULE);
const serviceName = scalar({
  ...plainServiceName,
  decode: (value, source) =>
    typeof value === "string" && value.endsWith("@internal")
      ? fail(`service names ending in "@internal" are reserved for built-in services`)
      : plainServiceName.decode(value, source),
});

const filePath = str(`a file path`);
const pathPrefix = text({
  expected: `a path prefix starting with "/"`,
  type: "path",
  pattern: /^\/[^\s?#]*$/,
  map: (path) => path.replace(/\/+$/, "") || "/",
});
const requestPath = text({
  expected: `a path starting with "/"`,
  type: "path",
  pattern: /^\/[^\s#]*$/,
});

const tls = obj({
  certificates: opt(
    list(
      obj({
        cert: req(filePath, "Certificate (chain) PEM file, relative to this file"),
        key: req(filePath, "Private key PEM file, relative to this file"),
        name: opt(
          certificateName,
          "Name for default_certificate, logs and metrics",
          "the cert file's base name",
        ),
        hosts: opt(
          list(hostPattern(), {
            unique: true,
            nonEmpty: `list at least one host name, or remove "hosts" to use the certificate's`,
          }),
          "Host names it serves",
          "the certificate's DNS names",
        ),
      }, "certificate"),
      { nonEmpty: "list at least one certificate" },
    ),
    "Certificates, picked by SNI",
    "none (then acme must be true)",
  ),
  acme: entrypointAcme,
  default_certificate: opt(
    text({ expected: 'a certificate name or "reject"', pattern: /^[\s\S]+$/ }),
    `Certificate for handshakes whose SNI matches none ("reject" refuses them)`,
    "the first certificate file (none: reject)",
  ),
  min_version: def(tlsVersion(), "1.2", "Lowest TLS version; only 1.2 (Deno cannot refuse 1.2)"),
  alpn: def(
    list(oneOf(["h2", "http/1.1"]), { nonEmpty: "list at least one protocol", unique: true }),
    ["h2", "http/1.1"],
    "Protocols offered by ALPN, in preference order",
  ),
}, "tls settings");

const entrypoint = obj({
  address: req(
    listenAddress(),
    `Listen address: ":8080" (all interfaces), "127.0.0.1:8080", "[::1]:8443", or a unix ` +
      `socket "unix:/run/gatehouse/web.sock" (relative paths start at this file's directory)`,
  ),
  protocol: def(
    oneOf(["http", "tcp", "udp"]),
    "http",
    `"http" (serves routes), "tcp" (raw streams, serves tcp_routes) or "udp" (datagrams, ` +
      `serves udp_routes)`,
  ),
  tls: opt(tls, "Terminate TLS with these certificates", "plain HTTP"),
  redirect: opt(
    obj({
      to: req(entrypointName, "Name of an entrypoint with tls"),
      port: opt(
        int(1, 65535),
        "Port written in Location",
        "443 when the request's Host has no port, else the target entrypoint's port",
      ),
    }, "redirect"),
    "Answer every request with a 308 to a TLS entrypoint (plain entrypoints only)",
  ),
  max_connections: def(
    int(0, 1_000_000),
    0,
    "Open connections on this entrypoint; more are closed at once; 0 = no limit",
  ),
  h2c: opt(
    oneOf(["on", "only", "off"]),
    `HTTP/2 with prior knowledge on a plain http entrypoint: "on" (a client that starts with the ` +
      `HTTP/2 preface speaks HTTP/2, others HTTP/1.1), "only" (HTTP/2 alone: anything else is a ` +
      `connection error), "off" (HTTP/1.1 alone)`,
    `"on"`,
  ),
  proxy_protocol: opt(
    entrypointProxyProtocol,
    "Read the client address from a PROXY protocol header (tcp entrypoints)",
    "no header expected",
  ),
  socket_file: opt(
    socketFile,
    "Mode and owner of the socket file (unix socket addresses only)",
    "as created: the process's user and group, the umask's mode",
  ),
  middlewares: def(
    middlewareList,
    [],
    "Middlewares applied to every route served here, before the route's own",
  ),
}, "entrypoint");

const route = obj({
  name: opt(
    routeName,
    "Unique name used in logs and metrics",
    'host and path, e.g. "app.localhost/api"',
  ),
  entrypoints: def(
    list(entrypointName, { unique: true }),
    [],
    "Entrypoints serving this route; empty means every HTTP entrypoint",
  ),
  match: def(
    obj({
      host: def(
        list(hostPattern({ any: true }), { single: true, unique: true }),
        [],
        'Hosts, exact or "*.example.com"; none means any',
      ),
      path: def(pathPrefix, "/", "Path prefix, matched on segment boundaries"),
      case_sensitive: def(
        bool(),
        true,
        "Match the path prefix with its case; false: in any case of ASCII letters (/ADMIN " +
          "under /admin), for upstreams that ignore case (Express by default, ASP.NET Core, IIS)",
      ),
      methods: def(
        list(token(`a method like "GET"`, (m) => m.toUpperCase()), { single: true, unique: true }),
        [],
        "Methods; none means any",
      ),
      headers: def(
        map(headerName(), headerMatch(), { placeholder: "<header>" }),
        {},
        "Headers that must have this exact value (true: any value)",
      ),
    }),
    {},
    "What requests this route takes; omitted means all",
  ),
  service: req(
    text({ expected: "a service name", pattern: /^[\s\S]+$/ }),
    `A key of "services", or a built-in: "welcome@internal" (welcome page), ` +
      `"metrics@internal" (Prometheus metrics on a public entrypoint)`,
  ),
  strip_prefix: def(bool(), false, "Remove match.path from the path before forwarding"),
  forward_path: def(
    oneOf(["normalized", "as_sent"]),
    "normalized",
    "Path sent upstream: normalized (as routing read it) or as_sent (the client's; a " +
      "leading // still becomes /)",
  ),
  allow_encoded: def(
    list(oneOf(ENCODED_CHARS), { single: true, unique: true }),
    [],
    "Encoded characters accepted in paths (%2F slash, %5C and a raw \\ backslash, " +
      "%3B semicolon, %25 percent, %3F question_mark, %23 hash); others are refused with 400",
  ),
  request_headers: def(headerOps, {}, "Changes to request headers sent upstream"),
  response_headers: def(headerOps, {}, "Changes to response headers sent to the client"),
  timeouts: def(
    obj({
      response_header: inherit(
        dur({ off: true }),
        "timeouts.response_header",
        "Upstream must start answering within this",
      ),
      body_idle: inherit(
        dur({ off: true }),
        "timeouts.body_idle",
        "A body that moves no byte this long is aborted, and an HTTP/1.1 client that takes " +
          "no byte of a response this long is closed",
      ),
      tunnel_idle: def(dur({ off: true }), "off", "Idle limit of an Upgrade tunnel"),
    }),
    {},
    "Per-route timeouts",
  ),
  upgrade: def(bool(), true, "Accept HTTP/1.1 Upgrade (WebSocket)"),
  max_body: inherit(sizeOrOff(), "limits.max_body", "Largest request body accepted (413 above it)"),
  compression: def(
    routeCompression,
    {},
    "Response compression here; false: off (keys not given take the top-level ones)",
  ),
  middlewares: def(middlewareList, [], `Names from "middlewares", applied in order`),
}, "route");

const server = union(
  serverUrl(),
  obj({
    url: req(serverUrl(), `Server URL like "http://app:3000"`),
    weight: def(int(1, 1000), 1, "Share of requests relative to the other servers"),
  }, "server"),
);

const service = obj({
  servers: req(
    list(server, { nonEmpty: "list at least one server" }),
    `Upstream servers: URLs, or {url, weight}`,
  ),
  balancing: def(
    oneOf(["round_robin", "least_requests", "random", "ip_hash"]),
    "round_robin",
    "How a server is picked",
  ),
  health_check: opt(
    obj({
      path: opt(
        requestPath,
        "Path requested on each server (http services only)",
        "required for http services; tcp services check with a TCP connect",
      ),
      grpc: opt(
        text({
          expected: `a gRPC service name like "my.pkg.Service", or "" for the whole server`,
          pattern: /^[A-Za-z0-9_.]{0,127}$/,
        }),
        "Check with the gRPC health checking protocol (grpc.health.v1.Health/Check) for this " +
          'service name ("" for the whole server) instead of a GET (HTTP/2 services)',
        "a GET of path",
      ),
      interval: def(dur(), "10s", "Time between checks"),
      timeout: def(dur(), "2s", "A check slower than this fails; less than interval"),
      healthy_threshold: def(int(1, 100), 2, "Consecutive successes to mark a server up"),
      unhealthy_threshold: def(int(1, 100), 3, "Consecutive failures to mark a server down"),
      expect_status: def(statusRange(), "200-399", "Status codes counted as healthy"),
      send: opt(
        text({ expected: "the text of a datagram", pattern: /^[\s\S]+$/ }),
        "Datagram sent to each server of a udp service; any reply within timeout is healthy",
        "required for udp services",
      ),
    }),
    "Active health checks",
    "none",
  ),
  passive_health: def(
    union(
      disabled(),
      obj({
        max_failures: def(int(1, 1000), 5, "Failures within window that eject a server"),
        window: def(dur(), "10s", "Window in which failures are counted"),
        eject_for: def(dur(), "30s", "How long an ejected server stays out"),
      }),
    ),
    {},
    "Eject servers that fail requests; false disables",
  ),
  tls: def(
    obj({
      ca_file: opt(
        filePath,
        "Extra trusted CA certificates (PEM), relative to this file",
        "system roots",
      ),
      server_name: opt(hostName(), "SNI and name verified", "the server URL's host"),
      insecure_skip_verify: def(bool(), false, "Skip certificate verification (testing only)"),
    }),
    {},
    "TLS to https servers",
  ),
  protocol: opt(
    oneOf(["http/1.1", "h2", "auto"]),
    `HTTP version to http(s):// servers: "h2" is ALPN h2 on https (h2c with prior knowledge on ` +
      `http), "auto" lets an https server choose by ALPN (h2, else http/1.1)`,
    "http/1.1 (h2c:// servers: h2)",
  ),
  host: def(
    hostHeader(),
    "preserve",
    `Host sent upstream: "preserve" (client's), "upstream" (server URL's), or a fixed value`,
  ),
  retries: def(int(0, 10), 2, "Attempts on other servers after a failure"),
  keep_alive: def(
    obj({
      max_idle_per_server: def(
        int(0, 10000),
        256,
        "Idle connections kept per server (fewer makes busy services reconnect all the time); " +
          "a burst's surplus closes after 1s unused",
      ),
      idle_timeout: def(dur(), "30s", "How long an idle connection is kept"),
    }),
    {},
    "Upstream connection reuse",
  ),
}, "service");

/** The whole YAML file. */
export const configSchema = obj({
  entrypoints: req(
    map(entrypointName, entrypoint, {
      placeholder: "<name>",
      nonEmpty: "define at least one entrypoint",
    }),
    "Sockets Gatehouse listens on, by name",
  ),
  routes: def(list(route), [], "Routes, most specific match wins, then list order"),
  tcp_routes: def(
    list(tcpRoute({ entrypoint: entrypointName, route: routeName })),
    [],
    "TCP stream routes: by SNI (exact, wildcard) or the entrypoint's default",
  ),
  udp_routes: def(
    list(udpRoute({ entrypoint: entrypointName, route: routeName })),
    [],
    "UDP routes: each client address gets a session to a server of the service",
  ),
  services: def(
    map(serviceName, service, { placeholder: "<name>" }),
    {},
    "Upstream services, by name",
  ),
  middlewares: def(
    middlewaresSection,
    {},
    "Named middlewares (access control, limits, auth, headers, redirects...), by name",
  ),
  acme: def(
    acmeSection,
    {},
    "Automatic HTTPS: certificates from an ACME CA for entrypoints with tls.acme",
  ),
  timeouts: def(
    obj({
      header_read: def(dur(), "10s", "A request head must arrive within this"),
      keep_alive_idle: def(
        dur(),
        "60s",
        "Idle keep-alive client connections are closed after this",
      ),
      connect: def(dur(), "5s", "Connecting to an upstream server"),
      drain: def(dur(), "30s", "On shutdown, how long in-flight requests may finish"),
      tls_handshake: def(dur(), "10s", "TLS handshake of a client connection"),
      response_header: def(
        dur({ off: true }),
        "60s",
        "Default for routes: upstream must start answering within this",
      ),
      body_idle: def(
        dur({ off: true }),
        "5m",
        "Default for routes: a body idle this long is aborted; also the longest a client may " +
          "take no byte of a response (HTTP/2, and Gatehouse's own answers)",
      ),
    }),
    {},
    "Server-wide timeouts",
  ),
  limits: def(
    obj({
      max_header: def(size("1KiB", "1MiB"), "32KiB", "Request line plus headers; larger gets 431"),
      max_body: def(sizeOrOff(), "off", "Default largest request body for routes"),
      max_connections: def(
        autoOrInt(0, 1_000_000),
        "auto",
        "Open client connections: auto (as many as the memory limit holds at 64 KiB each, " +
          "read at start), a number, or 0 = unlimited",
      ),
      max_requests_in_flight: def(
        autoOrInt(0, 10_000_000),
        "auto",
        "Requests in flight over all connections (HTTP/2 streams and WebSocket tunnels " +
          "included), past which a request gets 503: auto (half what max_connections auto " +
          "comes to: 128 KiB each within the memory limit), a number, or 0 = unlimited",
      ),
      max_connections_per_client: def(
        int(0, 1_000_000),
        0,
        "Open client connections from one address, over all entrypoints; 0 = no limit (behind " +
          "a load balancer every connection comes from its address)",
      ),
    }),
    {},
    "Size and connection limits",
  ),
  forwarding: def(
    obj({
      trusted_proxies: def(
        list(trustedProxy(), { unique: true }),
        [],
        `Peers whose X-Forwarded-* headers are kept; "unix": every client of a unix socket`,
      ),
      via: def(token(`a pseudonym like "gatehouse"`), "gatehouse", "Pseudonym in the Via header"),
      request_id_header: def(headerName(), "x-request-id", "Header carrying the request id"),
      header_underscores: def(
        oneOf(["drop", "pass", "reject"]),
        "drop",
        'Request headers named with "_" (CGI/WSGI read "_" as "-"): drop, pass on, or 400',
      ),
      method_override: def(
        oneOf(["refuse", "pass"]),
        "refuse",
        "Requests with X-HTTP-Method-Override, X-HTTP-Method or X-Method-Override (frameworks " +
          "act on that method, not the one routing matched): 400, or pass on",
      ),
      client_ip_depth: def(
        int(0, 16),
        0,
        "Client address from a trusted proxy's X-Forwarded-For: 0 = rightmost not in " +
          "trusted_proxies, N = Nth from the right",
      ),
    }),
    {},
    "Forwarded headers",
  ),
  not_found: def(
    obj({
      status: def(int(400, 599), 404, "Status when no route matches"),
      body: def(
        text({ expected: "a string" }),
        "404 page not found: no Gatehouse route matches this host and path\n",
        "Body when no route matches",
      ),
    }),
    {},
    "Answer when no route matches",
  ),
  log: def(
    obj({
      level: def(oneOf(["debug", "info", "warning", "error"]), "info", "Lowest level logged"),
      format: def(
        oneOf(["auto", "json", "text"]),
        "auto",
        "Application log format (stderr); auto: $GATEHOUSE_LOG_FORMAT if set, else text on a terminal and JSON otherwise",
      ),
      access_log: def(
        obj({
          enabled: def(bool(), true, "Log one line per request"),
          format: def(
            oneOf(["auto", "json", "combined"]),
            "auto",
            "Access log format (stdout); auto: as log.format, with combined for text",
          ),
        }),
        {},
        "Access log",
      ),
    }),
    {},
    "Logging",
  ),
  metrics: def(
    obj({
      enabled: def(bool(), true, "Count requests (false: /metrics shows only gauges)"),
      routers: def(bool(), true, "Per-route series (router and service labels)"),
      services: def(bool(), true, "Per-service series"),
      per_host: def(
        bool(),
        false,
        'Requests per route host name (names not in a route\'s match count as "other")',
      ),
    }),
    {},
    "Prometheus metrics (served on the admin endpoint at /metrics)",
  ),
  compression: def(compressionSection, {}, "Response compression (routes may override)"),
  docker: def(
    dockerSection,
    {},
    "Routes and services from Docker container labels, merged with this file (off by default)",
  ),
  workers: def(
    autoOrInt(1, MAX_WORKERS),
    "auto",
    "Worker isolates carrying the traffic (auto: one per CPU core the process may use); read at start",
  ),
  admin: def(
    obj({
      address: def(
        address({ off: true }),
        "127.0.0.1:9901",
        `Admin API address; "off" disables it`,
      ),
      token_env: opt(
        text({
          expected: `an environment variable name like "GATEHOUSE_TOKEN"`,
          type: "env name",
          pattern: /^[A-Z_][A-Z0-9_]*$/,
        }),
        "Environment variable holding the admin bearer token",
        "no token",
      ),
    }),
    {},
    "Admin API",
  ),
});

/** The decoded YAML: defaults applied, values parsed, not yet cross-checked. */
export type RawConfig = Out<typeof configSchema>;

/** Name of the built-in service answering with a welcome page. */
export const WELCOME_SERVICE = "welcome@internal";
/** Name of the built-in service answering with the Prometheus metrics. */
export const METRICS_SERVICE = "metrics@internal";

/** The keys of a decoded route, for readers of `RawConfig`. */
export type RawRoute = RawConfig["routes"][number];
/** A decoded item of `tcp_routes`. */
export type RawTcpRoute = RawConfig["tcp_routes"][number];
/** A decoded item of `udp_routes`. */
export type RawUdpRoute = RawConfig["udp_routes"][number];
/** A decoded service. */
export type RawService = RawConfig["services"] extends ReadonlyMap<string, infer S> ? S : never;
/** A decoded entrypoint. */
export type RawEntrypoint = RawConfig["entrypoints"] extends ReadonlyMap<string, infer E> ? E
  : never;
