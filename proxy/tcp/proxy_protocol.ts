/**
 * The PROXY protocol (HAProxy, versions 1 and 2): a header a load balancer writes before the
 * client's bytes to tell the next hop who the client is. Gatehouse writes it to upstreams that
 * ask for it and reads it from trusted load balancers.
 *
 * Spec: https://www.haproxy.org/download/3.0/doc/proxy-protocol.txt
 *
 * @module
 */
import type { ByteConn } from "../net/buffered_conn.ts";
import { ipAddressBytes } from "../net/ip_address.ts";
import type { Decision } from "./preamble.ts";

/** One end of a proxied connection. */
export interface Endpoint {
  /** IPv4 or IPv6 address, without brackets. */
  readonly address: string;
  readonly port: number;
}

/** A decoded header. `source` is null for LOCAL (v2), UNKNOWN (v1) and non-IP families. */
export interface ProxyHeader {
  readonly version: 1 | 2;
  readonly source: Endpoint | null;
  readonly destination: Endpoint | null;
  /** PP2_TYPE_AUTHORITY (v2): the host name the client asked for (SNI), if sent. */
  readonly authority: string | null;
}

/** Decoding the start of a stream: the header and how many bytes it took. */
export type ProxyParse = Decision<{ readonly header: ProxyHeader; readonly length: number }>;

/** The v2 signature; v1 starts with "PROXY ". */
export const V2_SIGNATURE = Uint8Array.of(
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a,
);
const V1_PREFIX = new TextEncoder().encode("PROXY ");
/** A v1 line is at most 107 bytes, CRLF included. */
const V1_MAX = 107;
const PP2_TYPE_AUTHORITY = 0x02;

/** Why a connection is refused when a trusted peer does not start with a PROXY header. */
export const MISSING_HEADER =
  "no PROXY protocol header, which peers in proxy_protocol.trusted must send";

/** Whether `data` starts (or may start, once more bytes arrive) with a PROXY header. */
export function proxyHeaderStart(data: Uint8Array): "yes" | "no" | "maybe" {
  let verdict: "yes" | "no" | "maybe" = "no";
  for (const sig of [V1_PREFIX, V2_SIGNATURE]) {
    const n = Math.min(sig.length, data.length);
    let same = true;
    for (let i = 0; i < n && same; i++) same = data[i] === sig[i];
    if (!same) continue;
    if (n === sig.length) return "yes";
    verdict = "maybe";
  }
  return verdict;
}

/** Decodes the PROXY header at the start of `data` (v1 or v2). */
export function decodeProxyHeader(data: Uint8Array): ProxyParse {
  const start = proxyHeaderStart(data);
  if (start === "no") return { status: "invalid", reason: MISSING_HEADER };
  if (start === "maybe") return { status: "incomplete" };
  return data[0] === V1_PREFIX[0] ? decodeV1(data) : decodeV2(data);
}

function invalid(reason: string): { status: "invalid"; reason: string } {
  return { status: "invalid", reason: `bad PROXY header: ${reason}` };
}

function decodeV1(data: Uint8Array): ProxyParse {
  let end = -1;
  for (let i = 0; i + 1 < Math.min(data.length, V1_MAX); i++) {
    if (data[i] === 0x0d && data[i + 1] === 0x0a) {
      end = i;
      break;
    }
  }
  if (end < 0) {
    return data.length >= V1_MAX ? invalid("v1 line too long") : { status: "incomplete" };
  }
  let line = "";
  for (let i = 0; i < end; i++) line += String.fromCharCode(data[i]);
  const length = end + 2;
  const parts = line.split(" ");
  if (parts[1] === "UNKNOWN") {
    return ok({ version: 1, source: null, destination: null, authority: null }, length);
  }
  if (parts.length !== 6 || (parts[1] !== "TCP4" && parts[1] !== "TCP6")) {
    return invalid(`v1 line ${JSON.stringify(line)} is not "PROXY TCP4|TCP6 src dst sport dport"`);
  }
  const family = parts[1] === "TCP4" ? 4 : 16;
  const [, , src, dst, sport, dport] = parts;
  const source = endpoint(src, sport, family);
  const destination = endpoint(dst, dport, family);
  if (source === null || destination === null) {
    return invalid(`v1 line ${JSON.stringify(line)} has a bad address or port`);
  }
  return ok({ version: 1, source, destination, authority: null }, length);
}

function endpoint(address: string, port: string, family: 4 | 16): Endpoint | null {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(port) || Number(port) > 65535) return null;
  try {
    if (ipAddressBytes(address).length !== family) return null;
  } catch {
    return null;
  }
  return { address: address.toLowerCase(), port: Number(port) };
}

function decodeV2(data: Uint8Array): ProxyParse {
  if (data.length < 16) return { status: "incomplete" };
  const verCmd = data[12];
  if (verCmd >> 4 !== 2) return invalid(`v2 version ${verCmd >> 4}`);
  const command = verCmd & 0x0f;
  if (command > 1) return invalid(`v2 command ${command}`);
  const family = data[13];
  const length = 16 + ((data[14] << 8) | data[15]);
  if (data.length < length) return { status: "incomplete" };
  const body = data.subarray(16, length);
  let source: Endpoint | null = null;
  let destination: Endpoint | null = null;
  let rest = body;
  if (family === 0x11 || family === 0x21) {
    const size = family === 0x11 ? 4 : 16;
    if (body.length < size * 2 + 4) return invalid("v2 address block too short");
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    source = { address: ipText(body.subarray(0, size)), port: view.getUint16(size * 2) };
    destination = {
      address: ipText(body.subarray(size, size * 2)),
      port: view.getUint16(size * 2 + 2),
    };
    rest = body.subarray(size * 2 + 4);
  } else if (family === 0x31) {
    if (body.length < 216) return invalid("v2 unix address block too short");
    rest = body.subarray(216);
  } else if (family !== 0x00) {
    return invalid(`v2 family 0x${family.toString(16)} is not TCP`);
  }
  const authority = tlvAuthority(rest);
  if (authority === undefined) return invalid("v2 TLV block is malformed");
  const local = command === 0;
  return ok({
    version: 2,
    source: local ? null : source,
    destination: local ? null : destination,
    authority,
  }, length);
}

/** The authority TLV's value (null when absent), or undefined when the TLVs do not parse. */
function tlvAuthority(tlvs: Uint8Array): string | null | undefined {
  let authority: string | null = null;
  let pos = 0;
  while (pos < tlvs.length) {
    if (pos + 3 > tlvs.length) return undefined;
    const type = tlvs[pos];
    const length = (tlvs[pos + 1] << 8) | tlvs[pos + 2];
    if (pos + 3 + length > tlvs.length) return undefined;
    if (type === PP2_TYPE_AUTHORITY) {
      authority = new TextDecoder().decode(tlvs.subarray(pos + 3, pos + 3 + length));
    }
    pos += 3 + length;
  }
  return authority;
}

function ok(header: ProxyHeader, length: number): ProxyParse {
  return { status: "ok", header, length };
}

function ipText(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLength).join(":")}`;
}

/** Both endpoints as bytes of one family: IPv4 is mapped into IPv6 when the other is IPv6. */
function sameFamily(source: Endpoint, destination: Endpoint): [Uint8Array, Uint8Array] {
  let src = ipAddressBytes(source.address);
  let dst = ipAddressBytes(destination.address);
  const mapped = (v4: Uint8Array) => Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, ...v4);
  if (src.length === 4 && dst.length === 16) src = mapped(src);
  if (dst.length === 4 && src.length === 16) dst = mapped(dst);
  return [src, dst];
}

/** True when both ends are IP addresses (not a unix socket's `unix:<path>`). */
function bothIp(source: Endpoint, destination: Endpoint): boolean {
  try {
    ipAddressBytes(source.address);
    ipAddressBytes(destination.address);
    return true;
  } catch {
    return false;
  }
}

/**
 * A v1 line: "PROXY TCP4 <src> <dst> <sport> <dport>\r\n", or "PROXY UNKNOWN\r\n" when the
 * client came through a unix socket (no address to tell).
 */
export function encodeV1(source: Endpoint, destination: Endpoint): Uint8Array {
  if (!bothIp(source, destination)) return new TextEncoder().encode("PROXY UNKNOWN\r\n");
  const [src, dst] = sameFamily(source, destination);
  const v6 = src.length === 16;
  const line = `PROXY ${v6 ? "TCP6" : "TCP4"} ${ipText(src)} ${ipText(dst)} ` +
    `${source.port} ${destination.port}\r\n`;
  return new TextEncoder().encode(line);
}

/**
 * A v2 PROXY header over TCP, with the authority TLV when `authority` is given; the family is
 * UNSPEC (no addresses: the receiver uses the connection's own) when the client came through a
 * unix socket.
 */
export function encodeV2(
  source: Endpoint,
  destination: Endpoint,
  authority: string | null = null,
): Uint8Array {
  const [src, dst] = bothIp(source, destination)
    ? sameFamily(source, destination)
    : [new Uint8Array(0), new Uint8Array(0)];
  // Two addresses and two ports, or nothing at all for UNSPEC.
  const block = src.length === 0 ? 0 : src.length * 2 + 4;
  const tlv = authority === null ? new Uint8Array(0) : new TextEncoder().encode(authority);
  const tlvLength = authority === null ? 0 : 3 + tlv.length;
  const out = new Uint8Array(16 + block + tlvLength);
  out.set(V2_SIGNATURE);
  out[12] = 0x21;
  out[13] = src.length === 0 ? 0x00 : src.length === 4 ? 0x11 : 0x21;
  const view = new DataView(out.buffer);
  view.setUint16(14, block + tlvLength);
  if (block > 0) {
    out.set(src, 16);
    out.set(dst, 16 + src.length);
    view.setUint16(16 + src.length * 2, source.port);
    view.setUint16(18 + src.length * 2, destination.port);
  }
  if (authority !== null) {
    const at = 16 + block;
    out[at] = PP2_TYPE_AUTHORITY;
    view.setUint16(at + 1, tlv.length);
    out.set(tlv, at + 3);
  }
  return out;
}

/** Why a connection is refused when a peer outside `trusted` sends a PROXY header. */
export const UNTRUSTED_HEADER =
  "a PROXY protocol header from a peer not listed in proxy_protocol.trusted";

/**
 * The client side of a stream from a peer that must not send a PROXY header: when its first
 * bytes are one, the read fails (after `onRefused`), so they never reach the upstream. After
 * the first bytes, reads go straight to the connection.
 */
export class NoProxyHeaderConn implements ByteConn {
  readonly #conn: ByteConn;
  readonly #onRefused: (reason: string) => void;
  #checked = false;
  #held: Uint8Array | null = null;

  constructor(conn: ByteConn, onRefused: (reason: string) => void) {
    this.#conn = conn;
    this.#onRefused = onRefused;
  }

  async read(p: Uint8Array): Promise<number | null> {
    if (!this.#checked) await this.#check();
    const held = this.#held;
    if (held === null) return await this.#conn.read(p);
    const n = Math.min(p.length, held.length);
    p.set(held.subarray(0, n));
    this.#held = n === held.length ? null : held.subarray(n);
    return n;
  }

  write(p: Uint8Array): Promise<number> {
    return this.#conn.write(p);
  }

  closeWrite(): Promise<void> {
    return this.#conn.closeWrite();
  }

  close(): void {
    this.#conn.close();
  }

  async #check(): Promise<void> {
    let held = new Uint8Array(0);
    while (proxyHeaderStart(held) === "maybe") {
      const chunk = new Uint8Array(V2_SIGNATURE.length);
      const n = await this.#conn.read(chunk);
      if (n === null) break;
      const more = new Uint8Array(held.length + n);
      more.set(held);
      more.set(chunk.subarray(0, n), held.length);
      held = more;
    }
    if (proxyHeaderStart(held) === "yes") {
      this.#onRefused(UNTRUSTED_HEADER);
      throw new Error(UNTRUSTED_HEADER);
    }
    this.#checked = true;
    this.#held = held.length > 0 ? held : null;
  }
}
