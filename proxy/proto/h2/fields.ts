/**
 * Validation of decoded HTTP/2 field sections (RFC 9113 8.2 and 8.3): requests, responses and
 * trailers. A section that breaks a rule is malformed: `MalformedError`, which the connection
 * turns into a stream error of type PROTOCOL_ERROR.
 *
 * Rules: names are lowercase tokens; values hold no NUL, CR, LF or other control character but
 * tab, and do not start or end with whitespace; no connection-specific field (Connection,
 * Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade); TE only "trailers"; pseudo-header
 * fields come first, once each, and only the defined ones; `:path` is origin-form, or `*` for
 * OPTIONS; Content-Length is 1*DIGIT (repeats must agree); a Host field must name the same
 * authority as `:authority`. Values are the same rules the HTTP/1.1 parser applies.
 *
 * @module
 */
import { HeaderList } from "../header_list.ts";

/** A field section that breaks RFC 9113's rules. */
export class MalformedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MalformedError";
  }
}

/** A request's pseudo-header fields and the rest, validated. */
export interface RequestHead {
  readonly method: string;
  /** Empty for CONNECT without `:protocol`. */
  readonly scheme: string;
  /** `:authority`, else the Host field, else "" (lowercase as received). */
  readonly authority: string;
  /** Empty for CONNECT without `:protocol`. */
  readonly path: string;
  /** `:protocol` of an extended CONNECT (RFC 8441), else null. */
  readonly protocol: string | null;
  readonly headers: HeaderList;
  /** Content-Length, or -1 when absent. */
  readonly contentLength: number;
}

export interface ResponseHead {
  readonly status: number;
  readonly headers: HeaderList;
  readonly contentLength: number;
}

const CONNECTION_SPECIFIC = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

/** 1 for the bytes of a lowercase token (RFC 9110 tchar without uppercase). */
const NAME_CHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") {
  NAME_CHAR[c.charCodeAt(0)] = 1;
}
/** 1 for the bytes of a method (any token). */
const TOKEN_CHAR = NAME_CHAR.slice();
for (let c = 0x41; c <= 0x5a; c++) TOKEN_CHAR[c] = 1;
/** 1 for the bytes an authority may hold: unreserved, sub-delims, ":", "[", "]", "%". */
const AUTHORITY_CHAR = new Uint8Array(256);
for (const c of "-._~!$&'()*+,;=:[]%") AUTHORITY_CHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) AUTHORITY_CHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) AUTHORITY_CHAR[c] = AUTHORITY_CHAR[c + 32] = 1;

/**
 * Strings already found valid, per rule. HPACK hands out the same string objects again for
 * indexed fields, and a Set lookup of a string whose hash V8 has cached beats a scan; the sets are
 * cleared when full, so they stay small.
 */
class Seen {
  readonly #set = new Set<string>();
  has(s: string): boolean {
    return this.#set.has(s);
  }
  add(s: string): void {
    if (s.length > 256) return;
    if (this.#set.size >= 2048) this.#set.clear();
    this.#set.add(s);
  }
}
const VALID_NAMES = new Seen();
const VALID_VALUES = new Seen();
const VALID_AUTHORITIES = new Seen();

function isToken(s: string, table: Uint8Array): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || table[c] === 0) return false;
  }
  return true;
}

/** Throws unless `value` is a valid field value. */
export function checkValue(name: string, value: string): void {
  const n = value.length;
  if (n === 0 || VALID_VALUES.has(value)) return;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) {
      throw new MalformedError(`invalid character 0x${c.toString(16)} in the value of "${name}"`);
    }
  }
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(n - 1);
  if (first === 0x20 || first === 0x09 || last === 0x20 || last === 0x09) {
    throw new MalformedError(`the value of "${name}" starts or ends with whitespace`);
  }
  VALID_VALUES.add(value);
}

/** Checks a regular field; adds it to `headers`; returns its Content-Length or `length`. */
function regularField(headers: HeaderList, name: string, value: string, length: number): number {
  if (!VALID_NAMES.has(name)) {
    if (!isToken(name, NAME_CHAR)) {
      throw new MalformedError(`invalid field name "${name}" (names are lowercase tokens)`);
    }
    VALID_NAMES.add(name);
  }
  checkValue(name, value);
  if (CONNECTION_SPECIFIC.has(name)) {
    throw new MalformedError(`connection-specific field "${name}" is not allowed in HTTP/2`);
  }
  if (name === "te" && value.toLowerCase() !== "trailers") {
    throw new MalformedError(`TE "${value}": only "trailers" is allowed in HTTP/2`);
  }
  headers.appendLower(name, value);
  if (name !== "content-length") return length;
  if (!/^\d{1,15}$/.test(value)) throw new MalformedError(`invalid content-length "${value}"`);
  const n = Number(value);
  if (length >= 0 && n !== length) throw new MalformedError("content-length fields disagree");
  return n;
}

/** Validates a request's field section (names and values in order). */
export function parseRequest(
  names: readonly string[],
  values: readonly string[],
  connectProtocol: boolean,
): RequestHead {
  let method: string | undefined;
  let scheme: string | undefined;
  let authority: string | undefined;
  let path: string | undefined;
  let protocol: string | undefined;
  const headers = new HeaderList();
  let contentLength = -1;
  let regular = false;
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    const value = values[i];
    if (name.charCodeAt(0) !== 0x3a) {
      regular = true;
      contentLength = regularField(headers, name, value, contentLength);
      continue;
    }
    if (regular) throw new MalformedError(`pseudo-header "${name}" after a regular field`);
    switch (name) {
      case ":method":
        if (method !== undefined) throw new MalformedError("duplicate :method");
        if (!isToken(value, TOKEN_CHAR)) throw new MalformedError(`invalid :method "${value}"`);
        method = value;
        break;
      case ":scheme":
        if (scheme !== undefined) throw new MalformedError("duplicate :scheme");
        if (value !== "https" && value !== "http" && !/^[a-zA-Z][a-zA-Z0-9+.-]*$/.test(value)) {
          throw new MalformedError(`invalid :scheme "${value}"`);
        }
        scheme = value;
        break;
      case ":authority":
        if (authority !== undefined) throw new MalformedError("duplicate :authority");
        authority = value;
        break;
      case ":path":
        if (path !== undefined) throw new MalformedError("duplicate :path");
        path = value;
        break;
      case ":protocol":
        if (protocol !== undefined) throw new MalformedError("duplicate :protocol");
        if (!connectProtocol) {
          throw new MalformedError(":protocol without SETTINGS_ENABLE_CONNECT_PROTOCOL");
        }
        if (!isToken(value, TOKEN_CHAR)) throw new MalformedError(`invalid :protocol "${value}"`);
        protocol = value;
        break;
      default:
        throw new MalformedError(`unknown or response pseudo-header "${name}" in a request`);
    }
  }
  if (method === undefined) throw new MalformedError(":method missing");
  if (method === "CONNECT" && protocol === undefined) {
    if (scheme !== undefined || path !== undefined) {
      throw new MalformedError("CONNECT with :scheme or :path");
    }
    if (authority === undefined) throw new MalformedError("CONNECT without :authority");
  } else {
    if (protocol !== undefined && method !== "CONNECT") {
      throw new MalformedError(":protocol on a request other than CONNECT");
    }
    if (scheme === undefined) throw new MalformedError(":scheme missing");
    if (path === undefined) throw new MalformedError(":path missing");
    checkPath(path, method);
    if (protocol !== undefined && authority === undefined) {
      throw new MalformedError("extended CONNECT without :authority");
    }
  }
  const host = headers.get("host");
  if (authority !== undefined) {
    checkAuthority(authority);
    if (host !== null && host.toLowerCase() !== authority.toLowerCase()) {
      throw new MalformedError(`Host "${host}" differs from :authority "${authority}"`);
    }
  } else if (host !== null) {
    checkAuthority(host);
  }
  return {
    method,
    scheme: scheme ?? "",
    authority: (authority ?? host ?? "").toLowerCase(),
    path: path ?? "",
    protocol: protocol ?? null,
    headers,
    contentLength,
  };
}

function checkPath(path: string, method: string): void {
  if (path === "*") {
    if (method !== "OPTIONS") throw new MalformedError(`:path "*" on a ${method} request`);
    return;
  }
  if (path.charCodeAt(0) !== 0x2f) {
    throw new MalformedError(`:path "${path}" is not origin-form (must start with "/")`);
  }
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c > 0xff) {
      throw new MalformedError(`invalid character 0x${c.toString(16)} in :path`);
    }
  }
}

function checkAuthority(authority: string): void {
  if (VALID_AUTHORITIES.has(authority)) return;
  for (let i = 0; i < authority.length; i++) {
    const c = authority.charCodeAt(i);
    if (c > 0xff || AUTHORITY_CHAR[c] === 0) {
      throw new MalformedError(`invalid authority "${authority}"`);
    }
  }
  VALID_AUTHORITIES.add(authority);
}

/** Validates a response's field section. */
export function parseResponse(names: readonly string[], values: readonly string[]): ResponseHead {
  let status = -1;
  const headers = new HeaderList();
  let contentLength = -1;
  let regular = false;
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    const value = values[i];
    if (name.charCodeAt(0) !== 0x3a) {
      regular = true;
      contentLength = regularField(headers, name, value, contentLength);
      continue;
    }
    if (regular) throw new MalformedError(`pseudo-header "${name}" after a regular field`);
    if (name !== ":status") {
      throw new MalformedError(`unknown or request pseudo-header "${name}" in a response`);
    }
    if (status >= 0) throw new MalformedError("duplicate :status");
    // RFC 9110 15: codes outside 100..599 are invalid.
    if (!/^[1-5]\d\d$/.test(value)) throw new MalformedError(`invalid :status "${value}"`);
    status = Number(value);
  }
  if (status < 0) throw new MalformedError(":status missing");
  if (status === 101) throw new MalformedError("status 101 is not allowed in HTTP/2");
  return { status, headers, contentLength };
}

/** Validates a trailer section: regular fields only. */
export function parseTrailers(names: readonly string[], values: readonly string[]): HeaderList {
  const headers = new HeaderList();
  for (let i = 0; i < names.length; i++) {
    if (names[i].charCodeAt(0) === 0x3a) {
      throw new MalformedError(`pseudo-header "${names[i]}" in trailers`);
    }
    regularField(headers, names[i], values[i], -1);
  }
  return headers;
}

/** True for fields HTTP/2 must not carry: the engine drops them from what it sends. */
export function isConnectionSpecific(name: string): boolean {
  return CONNECTION_SPECIFIC.has(name);
}
