/**
 * Is an address inside a list of CIDR blocks: the check behind trusted proxies, PROXY protocol
 * peers and IP allow lists. IPv4-mapped IPv6 addresses match IPv4 blocks; zone ids are ignored.
 */
import type { Cidr } from "../config/types.ts";
import { ipAddressBytes } from "./ip_address.ts";

/** True when `address` falls inside one of `cidrs`. */
export function inCidrs(address: string, cidrs: readonly Cidr[]): boolean {
  if (cidrs.length === 0) return false;
  const bytes = ipBytes(address);
  if (bytes === null) return false;
  for (const c of cidrs) {
    const candidate = c.family === 4 && bytes.length === 16 ? mappedV4(bytes) : bytes;
    if (candidate === null || candidate.length !== c.bytes.length) continue;
    if (prefixEquals(candidate, c.bytes, c.prefix)) return true;
  }
  return false;
}

function prefixEquals(a: Uint8Array, b: Uint8Array, prefix: number): boolean {
  const full = prefix >> 3;
  for (let i = 0; i < full; i++) if (a[i] !== b[i]) return false;
  const rest = prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (a[full] & mask) === (b[full] & mask);
}

function mappedV4(bytes: Uint8Array): Uint8Array | null {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return null;
  if (bytes[10] !== 0xff || bytes[11] !== 0xff) return null;
  return bytes.subarray(12);
}

/** Bytes of an IPv4 or IPv6 address literal (zone id ignored), or null. */
function ipBytes(address: string): Uint8Array | null {
  const zone = address.indexOf("%");
  try {
    return ipAddressBytes(zone < 0 ? address : address.slice(0, zone));
  } catch {
    return null;
  }
}
