/**
 * The resolved, validated and frozen configuration: what the rest of Gatehouse reads.
 *
 * Produced by `loadConfig` (load.ts) from the YAML file. Every default is already applied,
 * durations are milliseconds, sizes are bytes, addresses and CIDRs are parsed, cross references
 * (route -> service, redirect -> entrypoint, certificate names) are checked, and certificate and
 * key files are read. Nothing here refers to servers, sockets or timers.
 *
 * Types only; every config test reads them.
 */

/**
 * Where an item came from when a provider wrote it instead of the file: the label of a Docker
 * container (proxy/docker/).
 */
export interface LabelPos {
  /** The container's name, as `docker ps` shows it. */
  readonly container: string;
  /** The label key, or the common prefix of the labels of one route or service. */
  readonly label: string;
}

/** A position in the source file, 1-based, for messages that point back at the YAML. */
export interface SourcePos {
  readonly file: string;
  /** 0 for items from labels. */
  readonly line: number;
  readonly col: number;
  /** Set when the item came from a container's labels instead of the file. */
  readonly label?: LabelPos;
}

export interface Address {
  /** "0.0.0.0" when the YAML says ":8443"; IPv6 literals without brackets. */
  readonly hostname: string;
  readonly port: number;
}

/** A parsed CIDR block, IPv4 or IPv6 (IPv4-mapped IPv6 addresses match IPv4 blocks). */
export interface Cidr {
  readonly text: string;
  readonly family: 4 | 6;
  /** Network address as 4 or 16 bytes. */
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

export interface CertificateFile {
  /** Unique within the entrypoint; defaults to the cert file's base name without extension. */
  readonly name: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** PEM contents read at load time (a reload re-reads them). */
  readonly certPem: string;
  readonly keyPem: string;
  /** Host names it serves: explicit `hosts`, or the certificate's DNS SANs. Lowercase; may hold `*.x`. */
  readonly hosts: readonly string[];
  /** Leaf certificate facts, for metrics and status. */
  readonly subject: string;
  readonly serial: string;
  readonly notAfter: Date;
}

export interface EntrypointTls {
  /** Certificate files; may be empty when `acme` is on. */
  readonly certificates: readonly CertificateFile[];
  /**
   * Certificates for the route hosts served here come from the ACME CA (`Config.acme`), except
   * for names a certificate file covers.
   */
  readonly acme: boolean;
  /**
   * What a handshake whose SNI matches no certificate gets: the certificate file with this name,
   * or `null` to reject the handshake.
   */
  readonly defaultCertificate: string | null;
  /**
   * Lowest TLS version accepted. Only "1.2": Deno's TLS stack (rustls) negotiates 1.2 and 1.3 and
   * offers no way to refuse 1.2, so "1.3" is rejected at load time rather than silently ignored.
   */
  readonly minVersion: "1.2";
  /** ALPN offered, in preference order; default ["h2", "http/1.1"]. */
  readonly alpn: readonly ("h2" | "http/1.1")[];
}

export interface EntrypointRedirect {
  /** Name of the TLS entrypoint. */
  readonly to: string;
  /**
   * Port written in the Location header (443 is left out). `null` (no `port` in the YAML) means
   * automatic: 443 when the request's Host carries no port (the client came on the default
   * port, so behind a port mapping it expects the default HTTPS port too), else the TLS
   * entrypoint's bound port.
   */
  readonly port: number | null;
}

export interface EntrypointProxyProtocol {
  /** Peers that must send a PROXY protocol header (v1 or v2); no other peer may send one. */
  readonly trusted: readonly Cidr[];
}

/** A unix socket an entrypoint listens on, and what its file should look like. */
export interface UnixSocketFile {
  /** Absolute path of the socket file. */
  readonly path: string;
  /** Permission bits set after binding; null = as created (the umask's). */
  readonly mode: number | null;
  /** Numeric owner and group set after binding; null = unchanged. */
  readonly uid: number | null;
  readonly gid: number | null;
}

export interface Entrypoint {
  readonly name: string;
  /** Host and port; for a unix socket entrypoint `{ hostname: "", port: 0 }` (see `unix`). */
  readonly address: Address;
  /** The unix socket this entrypoint listens on instead of a TCP address; null = TCP. */
  readonly unix: UnixSocketFile | null;
  /**
   * "http": requests and `routes`; "tcp": raw streams and `tcp_routes`; "udp": datagrams and
   * `udp_routes` (`maxConnections` then caps sessions).
   */
  readonly protocol: "http" | "tcp" | "udp";
  /**
   * TLS terminated here. On a TCP entrypoint ALPN is empty (nothing offered). An HTTP
   * entrypoint with TLS may also take passthrough `tcp_routes` (chosen by SNI).
   */
  readonly tls: EntrypointTls | null;
  /** Plain entrypoint that answers every request with a 308 to a TLS entrypoint. */
  readonly redirect: EntrypointRedirect | null;
  /**
   * HTTP/2 with prior knowledge on a plain http entrypoint: "on" (the first bytes decide), "only"
   * (every connection is HTTP/2), "off" (every connection is HTTP/1.x). "on" where it does not
   * apply (TLS entrypoints choose by ALPN; tcp entrypoints).
   */
  readonly h2c: "on" | "only" | "off";
  /** Open connections on this entrypoint; 0 = no limit. Over it, connections are closed at once. */
  readonly maxConnections: number;
  /** Reading the client address from a PROXY protocol header (TCP entrypoints); null = never. */
  readonly proxyProtocol: EntrypointProxyProtocol | null;
  /** Names of middlewares applied to every route served here, before the route's own. */
  readonly middlewares: readonly string[];
  readonly pos: SourcePos;
}

export interface HeaderOps {
  /** Lowercase name, value. Replaces any existing value. */
  readonly set: readonly (readonly [string, string])[];
  /** Lowercase names removed. */
  readonly remove: readonly string[];
}

export interface HeaderMatch {
  /** Lowercase header name. */
  readonly name: string;
  /** Exact value; `null` means "present with any value". */
  readonly value: string | null;
}

export interface RouteMatch {
  /** Lowercase exact names and `*.suffix` wildcards; empty means any host. */
  readonly hosts: readonly string[];
  /** Path prefix on segment boundaries; "/" matches everything. Never ends with "/" unless it is "/". */
  readonly pathPrefix: string;
  /** False: `pathPrefix` matches in any case of ASCII letters. */
  readonly caseSensitive: boolean;
  /** Uppercase methods; empty means any method. */
  readonly methods: readonly string[];
  readonly headers: readonly HeaderMatch[];
}

export interface RouteTimeouts {
  /** Upstream must start its response (status line and headers) within this; 0 = no limit. */
  readonly responseHeader: number;
  /** A request or response body that moves no byte for this long is aborted; 0 = no limit. */
  readonly bodyIdle: number;
  /** Idle limit for an established Upgrade tunnel; 0 = none (the default). */
  readonly tunnelIdle: number;
}

/** An encoded character a route may accept in its paths (`allow_encoded`). */
export type EncodedChar =
  | "slash"
  | "backslash"
  | "semicolon"
  | "percent"
  | "question_mark"
  | "hash";

export interface Route {
  /** Unique; explicit `name`, else derived from the match (`host/path`). Used in logs and metrics. */
  readonly name: string;
  /** Position in the `routes` list: the tie breaker between equally specific routes. */
  readonly index: number;
  /** Entrypoint names this route is served on; empty means every HTTP entrypoint. */
  readonly entrypoints: readonly string[];
  readonly match: RouteMatch;
  /** Service name, or a built-in: "welcome@internal", "metrics@internal". */
  readonly service: string;
  /** Remove `match.pathPrefix` from the path before forwarding. */
  readonly stripPrefix: boolean;
  /**
   * The path the upstream gets: "normalized" (the one routing matched) or "as_sent" (the
   * client's, a leading run of "/" merged into one).
   */
  readonly forwardPath: "normalized" | "as_sent";
  /** Encoded characters this route accepts in a path (others are refused: `encoded_path`). */
  readonly allowEncoded: readonly EncodedChar[];
  readonly requestHeaders: HeaderOps;
  readonly responseHeaders: HeaderOps;
  readonly timeouts: RouteTimeouts;
  /** Accept HTTP/1.1 Upgrade (WebSocket and others) on this route. */
  readonly upgrade: boolean;
  /** Largest request body accepted (413 above it); `null` = no limit. */
  readonly maxBodyBytes: number | null;
  /** Response compression on this route (top-level settings merged); `null` = off. */
  readonly compression: Compression | null;
  /** Names of middlewares applied to this route, in order (after its entrypoint's). */
  readonly middlewares: readonly string[];
  readonly pos: SourcePos;
}

/** One named middleware: its kind and settings. */
export type Middleware = MiddlewareSpec & {
  readonly name: string;
  readonly pos: SourcePos;
};

/** A response content coding Gatehouse can produce. */
export type Codec = "zstd" | "br" | "gzip";

export interface Compression {
  /** Codings offered, in server preference order (ties in the client's q-values go first). */
  readonly codecs: readonly Codec[];
  /** Level per codec: gzip 1-9, br 0-11, zstd 1-19. */
  readonly levels: Readonly<Record<Codec, number>>;
  /** Bodies whose Content-Length is below this many bytes are sent as they are. */
  readonly minSize: number;
  /**
   * Compressible media types, lowercase: "type/subtype", "type/*" or "type/*+suffix"
   * ("application/*+json").
   */
  readonly types: readonly string[];
}

export interface ServerRef {
  /**
   * Normalised URL: "http://app:3000", "https://api.internal:8443", "h2c://grpc:50051" (HTTP/2
   * without TLS, prior knowledge), "tcp://db:5432", or a unix socket: "unix:///run/app.sock"
   * (HTTP), "unix+tcp:///run/db.sock" (byte streams).
   */
  readonly url: string;
  readonly scheme: "http" | "https" | "h2c" | "unix" | "tcp" | "unix+tcp" | "udp";
  /** "" for unix sockets. */
  readonly hostname: string;
  /** 0 for unix sockets. */
  readonly port: number;
  /** Absolute path of the socket file of a unix server; null for the others. */
  readonly path: string | null;
  readonly weight: number;
}

export interface ActiveHealthCheck {
  /**
   * Path of the GET (HTTP services); null for TCP services (a check is a TCP connect) and gRPC
   * checks.
   */
  readonly path: string | null;
  /**
   * The service name a gRPC health check (grpc.health.v1.Health/Check) asks about ("" for the
   * whole server), or null for a GET of `path`. Healthy means SERVING.
   */
  readonly grpcService: string | null;
  readonly interval: number;
  readonly timeout: number;
  /** Consecutive successes to mark a server up again. */
  readonly healthyThreshold: number;
  /** Consecutive failures to mark a server down. */
  readonly unhealthyThreshold: number;
  /** Status codes counted as healthy: 200-399 unless overridden. */
  readonly expectStatus: readonly [number, number];
  /** UDP services: the datagram sent to each server; any reply within `timeout` is healthy. */
  readonly send: string | null;
}

export interface PassiveHealth {
  /** Transport failures or timeouts within `window` that eject a server. */
  readonly maxFailures: number;
  readonly window: number;
  /** How long an ejected server stays out before it is tried again. */
  readonly ejectFor: number;
}

export interface UpstreamTls {
  /** PEM of extra trusted CAs, read from `ca_file`; `null` = system/webpki roots. */
  readonly caPem: string | null;
  readonly caFile: string | null;
  /** SNI and verification name; `null` = the server URL's host name. */
  readonly serverName: string | null;
  readonly insecureSkipVerify: boolean;
}

export type Balancing = "round_robin" | "least_requests" | "random" | "ip_hash";

export interface Service {
  readonly name: string;
  /**
   * "tcp" when the servers are tcp:// or unix+tcp:// (used by `tcp_routes`), "udp" for udp://
   * (`udp_routes`), else "http".
   */
  readonly protocol: "http" | "tcp" | "udp";
  readonly servers: readonly ServerRef[];
  readonly balancing: Balancing;
  readonly healthCheck: ActiveHealthCheck | null;
  readonly passiveHealth: PassiveHealth | null;
  readonly tls: UpstreamTls;
  /** "preserve" (the client's Host, default), "upstream" (the server URL's authority), or a fixed value. */
  readonly host: string;
  /** Attempts on other servers after the first one failed (retry rules apply). */
  readonly retries: number;
  /** Idle keep-alive connections kept per server, and how long each may stay idle. */
  readonly keepAlive: { readonly maxIdlePerServer: number; readonly idleTimeout: number };
  /**
   * The HTTP version spoken to http:// and https:// servers: "http/1.1"; "h2" (ALPN h2 on TLS,
   * prior knowledge without); "auto" (https only: ALPN offers both, the server chooses).
   * h2c:// servers always speak HTTP/2.
   */
  readonly httpProtocol: "http/1.1" | "h2" | "auto";
  readonly pos: SourcePos;
}

export interface Timeouts {
  /** A new request's head must arrive completely within this, counted from its first byte. */
  readonly headerRead: number;
  /** A keep-alive connection with no request in progress is closed after this. */
  readonly keepAliveIdle: number;
  /** TCP (and TLS) connect to an upstream server. */
  readonly connect: number;
  /** On SIGTERM/SIGINT: how long in-flight requests and tunnels may take before exit. */
  readonly drain: number;
  /** TLS handshake of a client connection. */
  readonly tlsHandshake: number;
  /**
   * The routes' default `body_idle`; on client connections also the longest one write of a
   * response may wait for the client to take bytes (0 = no limit).
   */
  readonly bodyIdle: number;
}

export interface Limits {
  /** Request line plus headers; larger -> 431. */
  readonly maxHeaderBytes: number;
  /** Default request body limit (routes may override); `null` = none. */
  readonly maxBodyBytes: number | null;
  /**
   * Open client connections across all entrypoints; 0 = unlimited; "auto" = as many as the
   * process's memory limit holds (app/connection_budget.ts works the number out at start).
   */
  readonly maxConnections: number | "auto";
  /** Open client connections from one address (a TCP peer's), over all entrypoints; 0 = no limit. */
  readonly maxConnectionsPerClient: number;
  /**
   * Requests in flight over all connections (HTTP/2 streams, open WebSocket tunnels); 0 = no
   * limit; "auto" = as many as `maxConnections: "auto"` stands for.
   */
  readonly maxRequestsInFlight: number | "auto";
}

export interface Forwarding {
  /** Incoming X-Forwarded-* / Forwarded are kept (appended to) only from these peers. */
  readonly trustedProxies: readonly Cidr[];
  /** Clients of unix socket entrypoints count as trusted proxies ("unix" in the list). */
  readonly trustUnixClients: boolean;
  /** Pseudonym used in Via. */
  readonly via: string;
  /** Header carrying the request id, lowercase. */
  readonly requestIdHeader: string;
  /** Request fields whose name holds "_": removed, forwarded, or the request refused (400). */
  readonly headerUnderscores: "drop" | "pass" | "reject";
  /** Requests naming another method in a method-override field: refused (400) or forwarded. */
  readonly methodOverride: "refuse" | "pass";
  /**
   * Which X-Forwarded-For address is the client's when the peer is a trusted proxy: 0 = the
   * rightmost one not in `trustedProxies`, N = the Nth from the right.
   */
  readonly clientIpDepth: number;
}

export interface NotFound {
  readonly status: number;
  readonly body: string;
}

export interface LogSettings {
  readonly level: "debug" | "info" | "warning" | "error";
  /**
   * Application log lines (stderr): "json", human "text", or "auto": $GATEHOUSE_LOG_FORMAT when
   * set, else text on a terminal and JSON otherwise.
   */
  readonly format: "auto" | "json" | "text";
  /** Access log lines (stdout): "auto" picks JSON or combined the same way. */
  readonly accessLog: { readonly enabled: boolean; readonly format: "auto" | "json" | "combined" };
}

export interface AdminSettings {
  /** `null` disables the admin endpoint. Default 127.0.0.1:9901. */
  readonly address: Address | null;
  /** Name of an environment variable holding a bearer token; `null` = no token. */
  readonly tokenEnv: string | null;
}

/** The ACME CA and how certificates from it are kept and renewed (proxy/acme/). */
export interface AcmeSettings {
  /** Directory URL; the words "production" and "staging" are resolved to Let's Encrypt's. */
  readonly directory: string;
  /** Contact address registered with the account; `null` = none. */
  readonly email: string | null;
  /** The CA's terms of service are agreed to (the config is refused without it when used). */
  readonly agreeTos: boolean;
  /** Extra trusted CAs (PEM) for the ACME server's own HTTPS, from `caFile`; `null` = system roots. */
  readonly caPem: string | null;
  readonly caFile: string | null;
  /** Absolute folder for the account key and certificates. */
  readonly storage: string;
  /** Share of the lifetime (0.1-0.95) after which a certificate is renewed without ARI. */
  readonly renewAt: number;
  /** First wait after a failed attempt (ms), doubled per failure up to `retryMax`. */
  readonly retryInitial: number;
  readonly retryMax: number;
  /** Limit for each request to the ACME server (ms). */
  readonly timeout: number;
}

/** How Gatehouse reaches the Docker Engine API. */
export type DockerEndpoint =
  | { readonly transport: "unix"; readonly path: string }
  | { readonly transport: "tcp"; readonly hostname: string; readonly port: number };

/** The Docker provider: routes and services from container labels, merged with the file. */
export interface DockerSettings {
  readonly enabled: boolean;
  readonly endpoint: DockerEndpoint;
  /** The endpoint as written: "unix:///var/run/docker.sock", "tcp://docker-api:2375". */
  readonly endpointText: string;
  /** Containers without `gatehouse.enable` are routed too (`gatehouse.enable=false` opts out). */
  readonly exposedByDefault: boolean;
  /** Network whose address is used for containers on several networks; `null` = the only one. */
  readonly network: string | null;
  /** Read `traefik.*` labels too (migration from Traefik). */
  readonly traefikLabels: boolean;
}

export interface MetricsSettings {
  /** Count requests on the request path (gauges are read at scrape time either way). */
  readonly enabled: boolean;
  /** Per-route series (router and service labels). */
  readonly routers: boolean;
  /** Per-service series. */
  readonly services: boolean;
  /** A requests counter per route host name; hosts no route names count as "other". */
  readonly perHost: boolean;
}

export interface Config {
  /** Path of the YAML file as given. */
  readonly source: string;
  /** First 12 hex characters of the SHA-256 of the file's bytes. */
  readonly version: string;
  readonly entrypoints: Readonly<Record<string, Entrypoint>>;
  readonly routes: readonly Route[];
  readonly tcpRoutes: readonly TcpRoute[];
  readonly udpRoutes: readonly UdpRoute[];
  readonly services: Readonly<Record<string, Service>>;
  /** Named middlewares, referenced by routes and entrypoints. */
  readonly middlewares: Readonly<Record<string, Middleware>>;
  readonly acme: AcmeSettings;
  readonly timeouts: Timeouts;
  readonly limits: Limits;
  readonly forwarding: Forwarding;
  readonly notFound: NotFound;
  readonly log: LogSettings;
  readonly admin: AdminSettings;
  readonly metrics: MetricsSettings;
  /**
   * Worker isolates that carry the traffic, each accepting on every entrypoint; "auto" is one per
   * CPU core the process may use. Read at start: a reload that changes it applies at the next start.
   */
  readonly workers: "auto" | number;
  /** Server-wide response compression (routes may override); `null` = off by default. */
  readonly compression: Compression | null;
  /**
   * Bytes the encoders and decoders of responses in flight hold at most in each worker isolate
   * (`compression.max_memory`); a response that finds them taken goes out uncompressed (503 when
   * it needed decoding).
   */
  readonly compressionMemory: number;
  /** Routes and services from the labels of Docker containers (proxy/docker/). */
  readonly docker: DockerSettings;
  /** Every file the config read (itself, certificates, keys, CA files): what a watcher watches. */
  readonly files: readonly string[];
}

export interface TcpRouteTimeouts {
  /** Both sides are closed after this long without a byte either way; 0 = never (default). */
  readonly idle: number;
  /** TCP connect to an upstream server (each attempt). */
  readonly connect: number;
}

export interface TcpRoute {
  /** Unique across `routes` and `tcp_routes`; explicit, else `<entrypoint>/<first sni or *>`. */
  readonly name: string;
  /** Position in the `tcp_routes` list. */
  readonly index: number;
  /** Entrypoints serving this route (TCP ones, or HTTP ones with TLS for passthrough). */
  readonly entrypoints: readonly string[];
  /** Lowercase names and `*.suffix` wildcards matched against SNI; empty = the default route. */
  readonly sni: readonly string[];
  /** Forward the client's TLS bytes untouched (routed by SNI) instead of terminating TLS. */
  readonly passthrough: boolean;
  /** A service with tcp:// servers. */
  readonly service: string;
  /** PROXY protocol header written to the upstream before the client's bytes. */
  readonly proxyProtocol: "off" | "v1" | "v2";
  readonly timeouts: TcpRouteTimeouts;
  readonly pos: SourcePos;
}

export interface UdpRoute {
  /** Unique across all routes; explicit, else `<entrypoint>/udp`. */
  readonly name: string;
  /** Position in the `udp_routes` list. */
  readonly index: number;
  /** UDP entrypoints serving this route (each has one). */
  readonly entrypoints: readonly string[];
  /** A service with udp:// servers. */
  readonly service: string;
  /** A client's session ends after this long without a datagram either way (ms). */
  readonly idleTimeout: number;
  readonly pos: SourcePos;
}

/** The settings of a middleware, by kind (see docs/middlewares.md). */
export type MiddlewareSpec =
  | IpFilterSpec
  | HeadersSpec
  | BodyLimitSpec
  | RateLimitSpec
  | InFlightLimitSpec
  | RedirectSpec
  | RewriteSpec
  | BasicAuthSpec
  | ForwardAuthSpec
  | ErrorPagesSpec
  | RetrySpec;

/** `retry`: the route's retry policy, over the safe-retry rules. */
export interface RetrySpec {
  readonly kind: "retry";
  readonly attempts: number;
  readonly on: readonly ("connect" | "reset" | "timeout")[];
  readonly backoffMs: number;
}

/** `errors`: answers with a status in `status` get a page instead of their body. */
export interface ErrorPagesSpec {
  readonly kind: "errors";
  /** Inclusive ranges of statuses, within 400-599. */
  readonly status: readonly (readonly [number, number])[];
  /** The page: the file's bytes (with {status} and {reason} to fill in), or a service to ask. */
  readonly page:
    | { readonly from: "file"; readonly file: string; readonly text: string }
    | { readonly from: "service"; readonly service: string; readonly path: string };
  readonly contentType: string;
  /** Milliseconds a service has to start answering. */
  readonly timeout: number;
}

/** `forward_auth`: a subrequest to an auth service decides; 2xx passes, anything else answers. */
export interface ForwardAuthSpec {
  readonly kind: "forward_auth";
  /** Name of the HTTP service asked. */
  readonly service: string;
  /** Path and query of the subrequest. */
  readonly path: string;
  /** Milliseconds the auth service has to answer. */
  readonly timeout: number;
  /** Lowercase fields of the client's request sent along; null = all but hop-by-hop/framing. */
  readonly requestHeaders: readonly string[] | null;
  /** Lowercase fields copied from a 2xx answer to the upstream request. */
  readonly responseHeaders: readonly string[];
}

/** `basic_auth`: users with bcrypt or argon2id hashes; 401 with WWW-Authenticate without. */
export interface BasicAuthSpec {
  readonly kind: "basic_auth";
  /** Inline users first, then the file's; names are unique. */
  readonly users: readonly { readonly name: string; readonly hash: string }[];
  /** Absolute path of the htpasswd file read, or null. */
  readonly usersFile: string | null;
  readonly realm: string;
  readonly removeHeader: boolean;
  /** Lowercase header set to the user name for the upstream, or null. */
  readonly userHeader: string | null;
}

/** `redirect`: one of three forms; the answer is `status` with Location. */
export interface RedirectSpec {
  readonly kind: "redirect";
  readonly status: 301 | 302 | 303 | 307 | 308;
  readonly to:
    /** The whole URL ("https://host:port/path?query") matched; fires when it matches. */
    | { readonly form: "regex"; readonly regex: string; readonly replacement: string }
    /** Fires when the URL with these parts set differs from the request's. */
    | {
      readonly form: "parts";
      readonly scheme: "http" | "https" | null;
      readonly host: string | null;
      readonly port: number | null;
      readonly path: string | null;
    }
    /** Fires when the host does not (add) or does (remove) start with "www.". */
    | { readonly form: "www"; readonly www: "add" | "remove" };
}

/** `rewrite`: the path the upstream gets (the query is kept). */
export type RewriteSpec =
  & { readonly kind: "rewrite" }
  & (
    | { readonly form: "path"; readonly path: string }
    | { readonly form: "regex"; readonly regex: string; readonly replacement: string }
    | { readonly form: "add_prefix"; readonly prefix: string }
    | { readonly form: "strip_regex"; readonly regex: string }
  );

/** Whose bucket or count a request uses. */
export type LimitKey =
  | { readonly from: "client_ip" }
  | { readonly from: "route" }
  /** The request header's value (lowercase name); the client IP when it is absent. */
  | { readonly from: "header"; readonly header: string };

/** `rate_limit`: a token bucket per key; 429 with Retry-After and RateLimit fields over it. */
export interface RateLimitSpec {
  readonly kind: "rate_limit";
  readonly average: number;
  readonly periodMs: number;
  readonly burst: number;
  readonly key: LimitKey;
  /** Buckets kept at most (a flood of keys cannot grow memory beyond it). */
  readonly maxKeys: number;
}

/** `in_flight_limit`: at most `amount` requests at once per key; 429 over it. */
export interface InFlightLimitSpec {
  readonly kind: "in_flight_limit";
  readonly amount: number;
  readonly key: LimitKey;
}

/** `ip_allow` (only these addresses pass) or `ip_deny` (these addresses are refused): 403. */
export interface IpFilterSpec {
  readonly kind: "ip_allow" | "ip_deny";
  readonly cidrs: readonly Cidr[];
}

/** `body_limit`: request bodies over `maxBytes` are refused with 413. */
export interface BodyLimitSpec {
  readonly kind: "body_limit";
  readonly maxBytes: number;
}

export interface Hsts {
  /** Seconds. */
  readonly maxAge: number;
  readonly includeSubdomains: boolean;
  readonly preload: boolean;
}

export interface Cors {
  /** Exact origins ("https://app.example.com"), "*", or patterns with one "*" label. */
  readonly allowOrigins: readonly string[];
  /** Uppercase methods. */
  readonly allowMethods: readonly string[];
  /** Lowercase request header names; empty = what the preflight asks for. */
  readonly allowHeaders: readonly string[];
  readonly exposeHeaders: readonly string[];
  readonly allowCredentials: boolean;
  /** Seconds a preflight may be cached; null = not said. */
  readonly maxAge: number | null;
}

/** `headers`: security presets, CORS, and header edits both ways. */
export interface HeadersSpec {
  readonly kind: "headers";
  /** Strict-Transport-Security, sent on HTTPS answers only; null = not sent. */
  readonly hsts: Hsts | null;
  readonly contentTypeNosniff: boolean;
  /** X-Frame-Options value, or null. */
  readonly frameOptions: string | null;
  readonly referrerPolicy: string | null;
  readonly contentSecurityPolicy: string | null;
  readonly permissionsPolicy: string | null;
  readonly cors: Cors | null;
  readonly request: HeaderOps;
  readonly response: HeaderOps;
}
