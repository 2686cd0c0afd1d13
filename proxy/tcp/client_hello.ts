/**
 * Reading the server name (SNI) and ALPN protocols from a TLS ClientHello without terminating
 * TLS, for routing raw TCP by name. The bytes are only looked at: whoever called keeps them and
 * forwards them untouched.
 *
 * The parser never throws and never reads out of bounds: every length field is checked against
 * what is left, records are at most 2^14 bytes (RFC 8446 5.1), and the whole hello is bounded by
 * `maxBytes`. It works on the bytes received so far and says "incomplete" until it can decide, so
 * a caller can read more (see `peekClientHello`).
 *
 * @module
 */

/** What routing needs from a ClientHello. */
export interface ClientHelloInfo {
  /** The host_name the client asked for, lowercase; null when it sent none. */
  readonly sni: string | null;
  /** Protocols offered by ALPN, in the client's order; empty when it offered none. */
  readonly alpn: readonly string[];
}

/** The outcome of looking at the first bytes of a connection. */
export type HelloParse =
  | { readonly status: "ok"; readonly hello: ClientHelloInfo }
  | { readonly status: "incomplete" }
  | { readonly status: "invalid"; readonly reason: string };

/** Largest TLSPlaintext fragment (RFC 8446 5.1). */
export const MAX_RECORD_LENGTH = 16_384;
/** Default bound on the bytes a ClientHello may take, record headers included. */
export const MAX_HELLO_BYTES = 32 * 1024;

const HANDSHAKE = 22;
const CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const INCOMPLETE: HelloParse = { status: "incomplete" };

function invalid(reason: string): HelloParse {
  return { status: "invalid", reason };
}

/**
 * Parses the ClientHello at the start of `data` (the first bytes a client sent). "incomplete"
 * means every byte so far is consistent with a ClientHello that needs more; it is never returned
 * once `data` holds `maxBytes` bytes or more.
 */
export function parseClientHello(data: Uint8Array, maxBytes = MAX_HELLO_BYTES): HelloParse {
  if (data.length > 0 && data[0] !== HANDSHAKE) {
    return invalid(data[0] & 0x80 ? "SSLv2 hello or not TLS" : "not a TLS handshake record");
  }
  // Reassembles the handshake message from as many records as it spans, copying once.
  const fragments: [number, number][] = [];
  let have = 0;
  let need = -1;
  let pos = 0;
  while (need < 0 || have < need) {
    if (pos + 5 > data.length) return tooLarge(data, maxBytes) ?? INCOMPLETE;
    if (data[pos] !== HANDSHAKE) return invalid("record of another type inside the ClientHello");
    if (data[pos + 1] !== 3) return invalid("record version is not TLS");
    const length = (data[pos + 3] << 8) | data[pos + 4];
    if (length === 0) return invalid("empty handshake record");
    if (length > MAX_RECORD_LENGTH) return invalid(`record of ${length} bytes is over 2^14`);
    const start = pos + 5;
    const end = Math.min(start + length, data.length);
    fragments.push([start, end]);
    have += end - start;
    if (need < 0 && have >= 4) {
      const header = gather(data, fragments, 4);
      if (header[0] !== CLIENT_HELLO) {
        return invalid("first handshake message is not a ClientHello");
      }
      need = 4 + ((header[1] << 16) | (header[2] << 8) | header[3]);
      if (need > maxBytes) return invalid(`ClientHello of ${need - 4} bytes is over the limit`);
    }
    if (end < start + length) break;
    pos = end;
  }
  if (need < 0 || have < need) return tooLarge(data, maxBytes) ?? INCOMPLETE;
  const message = gather(data, fragments, need);
  return parseBody(message, 4, need);
}

/** Whether `data` starts like a TLS handshake record (so it is TLS, valid or not). */
export function startsLikeTls(data: Uint8Array): boolean {
  return data.length > 0 && data[0] === HANDSHAKE;
}

function tooLarge(data: Uint8Array, maxBytes: number): HelloParse | undefined {
  return data.length >= maxBytes
    ? invalid(`no complete ClientHello in ${maxBytes} bytes`)
    : undefined;
}

/** The first `n` bytes of the concatenated fragments. */
function gather(data: Uint8Array, fragments: readonly [number, number][], n: number): Uint8Array {
  if (fragments.length > 0 && fragments[0][1] - fragments[0][0] >= n) {
    return data.subarray(fragments[0][0], fragments[0][0] + n);
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const [start, end] of fragments) {
    const take = Math.min(end - start, n - off);
    out.set(data.subarray(start, start + take), off);
    off += take;
    if (off === n) break;
  }
  return out;
}

/** A bounds-checked reader: every read returns -1 (or false) past `end` instead of throwing. */
class Cursor {
  constructor(readonly buf: Uint8Array, public pos: number, readonly end: number) {}

  get left(): number {
    return this.end - this.pos;
  }

  u8(): number {
    return this.pos + 1 <= this.end ? this.buf[this.pos++] : -1;
  }

  u16(): number {
    if (this.pos + 2 > this.end) return -1;
    const v = (this.buf[this.pos] << 8) | this.buf[this.pos + 1];
    this.pos += 2;
    return v;
  }

  skip(n: number): boolean {
    if (n < 0 || this.pos + n > this.end) return false;
    this.pos += n;
    return true;
  }

  /** A cursor over the next `n` bytes (advancing this one), or null when they are not there. */
  sub(n: number): Cursor | null {
    if (n < 0 || this.pos + n > this.end) return null;
    const c = new Cursor(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return c;
  }
}

function parseBody(buf: Uint8Array, start: number, end: number): HelloParse {
  const c = new Cursor(buf, start, end);
  const version = c.u16();
  if (version < 0x0300 || version > 0x03ff) return invalid("ClientHello version is not TLS");
  if (!c.skip(32)) return invalid("ClientHello too short for its random");
  const sessionId = c.u8();
  if (sessionId < 0 || sessionId > 32 || !c.skip(sessionId)) return invalid("bad session id");
  const suites = c.u16();
  if (suites < 2 || suites % 2 !== 0 || !c.skip(suites)) return invalid("bad cipher suite list");
  const compression = c.u8();
  if (compression < 1 || !c.skip(compression)) return invalid("bad compression method list");
  if (c.left === 0) return { status: "ok", hello: { sni: null, alpn: [] } };
  const extLength = c.u16();
  if (extLength !== c.left) return invalid("extension block length does not match the ClientHello");
  const seen = new Set<number>();
  let sni: string | null = null;
  let alpn: string[] = [];
  while (c.left > 0) {
    const type = c.u16();
    const length = c.u16();
    const body = c.sub(length);
    if (type < 0 || length < 0 || body === null) return invalid("truncated extension");
    if (seen.has(type)) return invalid(`extension ${type} appears twice`);
    seen.add(type);
    if (type === EXT_SERVER_NAME) {
      const parsed = serverName(body);
      if (typeof parsed !== "object") return invalid(parsed);
      sni = parsed.name;
    } else if (type === EXT_ALPN) {
      const parsed = protocols(body);
      if (typeof parsed === "string") return invalid(parsed);
      alpn = parsed;
    }
  }
  return { status: "ok", hello: { sni, alpn } };
}

/** Letters, digits, "-", "_" and "." (RFC 6066: ASCII, no trailing dot). */
function isNameByte(b: number): boolean {
  return (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) || (b >= 0x30 && b <= 0x39) ||
    b === 0x2d || b === 0x5f || b === 0x2e;
}

function serverName(c: Cursor): { name: string | null } | string {
  const listLength = c.u16();
  if (listLength < 1 || listLength !== c.left) return "bad server_name list length";
  let name: string | null = null;
  while (c.left > 0) {
    const type = c.u8();
    const length = c.u16();
    const entry = c.sub(length);
    if (type < 0 || length < 0 || entry === null) return "truncated server_name entry";
    if (type !== 0) continue;
    if (name !== null) return "more than one host_name in server_name";
    if (length === 0 || length > 255) return "host_name length out of range";
    let text = "";
    for (let i = entry.pos; i < entry.end; i++) {
      const b = entry.buf[i];
      if (!isNameByte(b)) return "host_name holds a byte that is not a name character";
      text += String.fromCharCode(b >= 0x41 && b <= 0x5a ? b + 32 : b);
    }
    if (text.startsWith(".") || text.endsWith(".") || text.includes("..")) {
      return "host_name has an empty label";
    }
    name = text;
  }
  return { name };
}

function protocols(c: Cursor): string[] | string {
  const listLength = c.u16();
  if (listLength < 2 || listLength !== c.left) return "bad ALPN list length";
  const out: string[] = [];
  while (c.left > 0) {
    const length = c.u8();
    const entry = c.sub(length);
    if (length < 1 || entry === null) return "bad ALPN protocol entry";
    let text = "";
    for (let i = entry.pos; i < entry.end; i++) text += String.fromCharCode(entry.buf[i]);
    out.push(text);
  }
  return out;
}
