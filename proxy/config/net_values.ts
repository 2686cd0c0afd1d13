/**
 * Network value kinds of the YAML file: addresses, CIDRs, server URLs, host names, headers.
 *
 * @module
 */
import { ipAddressBytes } from "../net/ip_address.ts";
import { fail, mismatch, ok, scalar, type ScalarNode } from "./dsl.ts";
import { quote } from "./errors.ts";
import type { Address, Cidr } from "./types.ts";
import { text } from "./values.ts";

const LABEL = "[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?";
const HOST = `${LABEL}(?:\\.${LABEL})*`;
const HOST_NAME = new RegExp(`^${HOST}$`);
const lower = (s: string) => s.toLowerCase();
const hostLength = (s: string) =>
  s.length > 253 ? `host name ${quote(s)} is longer than 253 characters` : undefined;

function ipBytes(textual: string): Uint8Array | undefined {
  try {
    return ipAddressBytes(textual);
  } catch {
    return undefined;
  }
}

const ADDRESS = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9_.-]*)):([0-9]{1,5})$/;
const ADDRESS_EXPECTED = `an address like ":8080", "127.0.0.1:8080" or "[::1]:8443"`;

function parseAddress(value: string): Address | string {
  const match = ADDRESS.exec(value);
  if (!match) return `expected ${ADDRESS_EXPECTED}, found ${quote(value)}`;
  const [, v6, name, portText] = match;
  const port = Number(portText);
  if (port > 65535) return `port ${port} in ${quote(value)} is out of range (0-65535)`;
  if (v6 !== undefined) {
    if (ipBytes(v6)?.length !== 16) return `${quote(v6)} in ${quote(value)} is not an IPv6 address`;
    return { hostname: v6.toLowerCase(), port };
  }
  if (name === "") return { hostname: "0.0.0.0", port };
  if (!HOST_NAME.test(name)) {
    return `${quote(name)} in ${quote(value)} is not a host name or IPv4 address`;
  }
  return { hostname: name.toLowerCase(), port };
}

/** A listen address; with `off`, "off" and `false` give `null`. */
export function address(): ScalarNode<Address>;
export function address(options: { off: true }): ScalarNode<Address | null>;
export function address(options: { off?: boolean } = {}): ScalarNode<Address | null> {
  const expected = options.off ? `${ADDRESS_EXPECTED} (or "off")` : ADDRESS_EXPECTED;
  const pattern = options.off ? `^(?:off|${ADDRESS.source.slice(1, -1)})$` : ADDRESS.source;
  const json = { type: "string", pattern };
  return scalar({
    type: options.off ? "address or off" : "address",
    expected,
    json: options.off ? { anyOf: [json, { const: false }] } : json,
    decode(value, source) {
      if (options.off && (value === "off" || value === false)) return ok(null);
      if (typeof value !== "string") return mismatch(expected, value, source);
      const parsed = parseAddress(value);
      return typeof parsed === "string" ? fail(parsed) : ok(parsed);
    },
  });
}

/** An entrypoint's listen address: host and port, or a unix socket path (not yet absolute). */
export type ListenAddress = Address | { readonly unix: string };

const LISTEN_EXPECTED = `${ADDRESS_EXPECTED}, or a unix socket like "unix:/run/gatehouse.sock"`;

/** A listen address of an entrypoint: `address()` or "unix:<path>". */
export function listenAddress(): ScalarNode<ListenAddress> {
  const tcp = address();
  return scalar<ListenAddress>({
    type: "address or unix:path",
    expected: LISTEN_EXPECTED,
    json: { type: "string", pattern: `^(?:unix:[^\\s].*|${ADDRESS.source.slice(1, -1)})$` },
    decode(value, source) {
      if (typeof value === "string" && /^unix:/i.test(value)) {
        const path = value.slice(5);
        if (path === "") {
          return fail(`expected a socket path after "unix:", like "unix:/run/gatehouse.sock"`);
        }
        if (path.startsWith("//")) {
          const fixed = `unix:${path.replace(/^\/+/, "/")}`;
          return fail(
            `write a listening socket as ${quote(fixed)}: one slash, as nginx's "listen unix:" ` +
              `does ("unix://" names servers)`,
          );
        }
        const problem = socketPathProblem(path);
        return problem === undefined ? ok({ unix: path }) : fail(problem);
      }
      if (typeof value !== "string") return mismatch(LISTEN_EXPECTED, value, source);
      return tcp.decode(value, source);
    },
  });
}

const CIDR = /^([0-9A-Fa-f:.]+)(?:\/([0-9]{1,3}))?$/;
const CIDR_EXPECTED = `a CIDR block like "10.0.0.0/8" or an IP address like "::1"`;

/** A CIDR block or single address, as its masked network address. */
export function cidr(): ScalarNode<Cidr> {
  return scalar({
    type: "CIDR",
    expected: CIDR_EXPECTED,
    json: { type: "string", pattern: CIDR.source },
    decode(value, source) {
      const match = typeof value === "string" ? CIDR.exec(value) : null;
      const bytes = match ? ipBytes(match[1]) : undefined;
      if (!match || !bytes) return mismatch(CIDR_EXPECTED, value, source);
      const bits = bytes.length * 8;
      const prefix = match[2] === undefined ? bits : Number(match[2]);
      if (prefix > bits) return fail(`prefix /${prefix} is longer than the address (${bits} bits)`);
      const network = bytes.map((byte, i) => {
        const keep = Math.max(0, Math.min(8, prefix - i * 8));
        return byte & (0xff << (8 - keep));
      });
      return ok({
        text: value as string,
        family: bytes.length === 4 ? 4 : 6,
        bytes: network,
        prefix,
      });
    },
  });
}

/** A trusted proxy: a CIDR block or address, or "unix" (every client of a unix socket entrypoint). */
export function trustedProxy(): ScalarNode<Cidr | "unix"> {
  const block = cidr();
  const expected = `${CIDR_EXPECTED}, or "unix"`;
  return scalar<Cidr | "unix">({
    type: "CIDR or unix",
    expected,
    json: { anyOf: [block.json, { const: "unix" }] },
    decode(value, source) {
      if (value === "unix") return ok("unix");
      const parsed = block.decode(value, source);
      return parsed.ok ? parsed : mismatch(expected, value, source);
    },
  });
}

/** The schemes of server URLs: HTTP (over TCP, TLS, h2c or a unix socket), byte streams, datagrams. */
export type ServerScheme = "http" | "https" | "h2c" | "unix" | "tcp" | "unix+tcp" | "udp";

/** A parsed upstream server URL. */
export interface ServerUrl {
  /** "http://app:3000", "unix:///run/app.sock": lowercase scheme and host, explicit port, no path. */
  readonly url: string;
  readonly scheme: ServerScheme;
  /** IPv6 literals without brackets; "" for unix sockets. */
  readonly hostname: string;
  /** 0 for unix sockets. */
  readonly port: number;
  /** The socket file of `unix://` and `unix+tcp://` servers; null for the others. */
  readonly path: string | null;
}

const URL_EXPECTED =
  `a server URL like "http://app:3000", "https://api:8443", "h2c://grpc:50051", ` +
  `"tcp://db:5432", "udp://dns:53" or "unix:///run/app.sock"`;

/** Linux keeps a socket path in 108 bytes, the terminating NUL included. */
export const MAX_SOCKET_PATH = 107;

/** "unix:///run/app.sock" (HTTP) or "unix+tcp:///run/db.sock" (byte streams). */
const UNIX_URL = /^(unix|unix\+tcp):\/\/(.*)$/i;

function parseUnixUrl(value: string, match: RegExpExecArray): ServerUrl | string {
  const scheme = match[1].toLowerCase() as "unix" | "unix+tcp";
  const path = match[2];
  if (!path.startsWith("/")) {
    return `a ${scheme}:// server names an absolute socket path after "//", like ` +
      `"${scheme}:///run/app.sock" (three slashes), found ${quote(value)}`;
  }
  const problem = socketPathProblem(path);
  if (problem !== undefined) return problem;
  return { url: `${scheme}://${path}`, scheme, hostname: "", port: 0, path };
}

/** What is wrong with a unix socket path, if anything. */
export function socketPathProblem(path: string): string | undefined {
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f?#]/.test(path)) {
    return `a socket path cannot hold control characters, "?" or "#": ${quote(path)}`;
  }
  const bytes = new TextEncoder().encode(path).length;
  if (bytes > MAX_SOCKET_PATH) {
    return `socket path ${quote(path)} is ${bytes} bytes long: Linux allows at most ` +
      `${MAX_SOCKET_PATH}; use a shorter directory`;
  }
  return undefined;
}

function parseServerUrl(value: string): ServerUrl | string {
  const unix = UNIX_URL.exec(value);
  if (unix) return parseUnixUrl(value, unix);
  let url: URL;
  try {
    if (!/^(?:https?|h2c|tcp|udp):\/\//i.test(value)) throw new Error();
    // "tcp:", "udp:" and "h2c:" are not special schemes to URL: parse as http for its host rules.
    url = new URL(value.replace(/^(?:tcp|udp|h2c):/i, "http:"));
  } catch {
    return `expected ${URL_EXPECTED}, found ${quote(value)}`;
  }
  if (url.username || url.password) return `a server URL cannot hold a user name or password`;
  if (url.search || url.hash || value.endsWith("?") || value.endsWith("#")) {
    return `a server URL cannot have a query or fragment`;
  }
  if (url.pathname !== "/") {
    return `a server URL has no path: remove ${quote(url.pathname)} (see "strip_prefix" on routes)`;
  }
  const raw = /^(tcp|udp):/i.exec(value)?.[1].toLowerCase() as "tcp" | "udp" | undefined;
  if (raw !== undefined && !/:[0-9]+\/?$/.test(value)) {
    return `a ${raw}:// server needs a port, like "${
      raw === "tcp" ? "tcp://db:5432" : "udp://dns:53"
    }"`;
  }
  const scheme = raw ??
    (/^h2c:/i.test(value) ? "h2c" : url.protocol === "https:" ? "https" : "http");
  const port = url.port === "" ? (scheme === "https" ? 443 : 80) : Number(url.port);
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return { url: `${scheme}://${url.hostname}:${port}`, scheme, hostname, port, path: null };
}

/** A server URL: http, https, h2c, tcp or udp without path, query or user info; or a unix socket. */
export function serverUrl(): ScalarNode<ServerUrl> {
  return scalar({
    type: "URL",
    expected: URL_EXPECTED,
    json: {
      type: "string",
      pattern: "^(?:(?:[Hh][Tt][Tt][Pp][Ss]?|[Hh]2[Cc]|[Tt][Cc][Pp]|[Uu][Dd][Pp])://[^/?#@\\s]+/?" +
        "|[Uu][Nn][Ii][Xx](?:\\+[Tt][Cc][Pp])?:///[^?#]*)$",
    },
    decode(value, source) {
      if (typeof value !== "string") return mismatch(URL_EXPECTED, value, source);
      const parsed = parseServerUrl(value);
      return typeof parsed === "string" ? fail(parsed) : ok(parsed);
    },
  });
}

/** A host name ("api.internal"), lowercased. */
export function hostName(): ScalarNode<string> {
  return text({
    expected: `a host name like "api.internal"`,
    type: "host",
    pattern: HOST_NAME,
    map: lower,
    check: hostLength,
  });
}

/** A host name or a `*.suffix` wildcard; with `any`, also `*` alone. Lowercased. */
export function hostPattern(options: { any?: boolean } = {}): ScalarNode<string> {
  const body = `(?:\\*\\.)?${HOST}`;
  const pattern = new RegExp(options.any ? `^(?:\\*|${body})$` : `^${body}$`);
  const expected = `a host name like "app.example.com" or "*.example.com"`;
  return text({ expected, type: "host", pattern, map: lower, check: hostLength });
}

const HOST_HEADER = new RegExp(`^(?:${HOST}|\\[[0-9A-Fa-f:.]+\\])(?::[0-9]{1,5})?$`);

/** `preserve`, `upstream`, or a fixed Host header value (host[:port]). */
export function hostHeader(): ScalarNode<string> {
  return text({
    expected: `"preserve", "upstream" or a host like "app.internal:8080"`,
    type: "`preserve` | `upstream` | host",
    pattern: HOST_HEADER,
  });
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** An HTTP token (methods, Via pseudonym); `map` normalises case. */
export function token(expected: string, map?: (s: string) => string): ScalarNode<string> {
  return text({ expected, type: "token", pattern: TOKEN, map });
}

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "te",
  "transfer-encoding",
  "upgrade",
  "proxy-connection",
  "trailer",
  "content-length",
]);

/** A header name, lowercased; with `settable`, hop-by-hop and framing headers are refused. */
export function headerName(options: { settable?: boolean } = {}): ScalarNode<string> {
  const check = (name: string) =>
    options.settable && HOP_BY_HOP.has(name)
      ? `Cannot set ${quote(name)}: Gatehouse manages this header for each connection`
      : undefined;
  return text({
    expected: `a header name like "x-request-id"`,
    type: "header name",
    pattern: TOKEN,
    map: lower,
    check,
  });
}

const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** A header value: no line breaks or control characters. */
export function headerValue(): ScalarNode<string> {
  return text({
    expected: "a header value without line breaks",
    type: "string",
    pattern: FIELD_VALUE,
  });
}

/** A header match: an exact value, or `true` for "present with any value" (`null`). */
export function headerMatch(): ScalarNode<string | null> {
  const expected = "a header value or true";
  const exact = headerValue();
  return scalar({
    type: "string or true",
    expected,
    json: { anyOf: [{ type: ["string", "number"], pattern: FIELD_VALUE.source }, { const: true }] },
    decode(value, source) {
      if (value === true) return ok(null);
      if (typeof value !== "string" && typeof value !== "number") {
        return mismatch(expected, value, source);
      }
      return exact.decode(value, source);
    },
  });
}

const STATUS_RANGE = /^([1-5][0-9][0-9])(?:-([1-5][0-9][0-9]))?$/;

/** An HTTP status or range: "200", 200, "200-399". */
export function statusRange(): ScalarNode<readonly [number, number]> {
  const expected = `a status or range like "200" or "200-399"`;
  return scalar({
    type: "status range",
    expected,
    json: { type: ["string", "integer"], pattern: STATUS_RANGE.source, minimum: 100, maximum: 599 },
    decode(value, source) {
      const match = typeof value === "string" || typeof value === "number"
        ? STATUS_RANGE.exec(source)
        : null;
      if (!match) return mismatch(expected, value, source);
      const low = Number(match[1]);
      const high = match[2] === undefined ? low : Number(match[2]);
      return low <= high
        ? ok([low, high] as const)
        : fail(`status range ${quote(source)} ends before it starts`);
    },
  });
}

/** `min_version`: only "1.2", with the reason "1.3" cannot be honoured. */
export function tlsVersion(): ScalarNode<"1.2"> {
  return scalar({
    type: "`1.2`",
    expected: `"1.2"`,
    json: { enum: ["1.2", 1.2] },
    decode(value, source) {
      if (source === "1.2") return ok("1.2");
      if (source === "1.3") {
        return fail(
          `Cannot require TLS 1.3: Deno's TLS stack negotiates TLS 1.2 and 1.3 and cannot refuse 1.2; remove "min_version"`,
        );
      }
      return mismatch(`"1.2"`, value, source);
    },
  });
}
