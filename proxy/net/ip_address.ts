/**
 * Textual IP addresses to the bytes an X.509 iPAddress name holds.
 *
 * @module
 */

function ipv4Bytes(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  if (!parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255)) return undefined;
  return parts.map(Number);
}

/** Parses colon-separated groups to bytes; the last group may be dotted IPv4 if `v4Tail`. */
function groupBytes(groups: string[], v4Tail: boolean): number[] | undefined {
  const bytes: number[] = [];
  for (const [index, group] of groups.entries()) {
    const v4 = v4Tail && index === groups.length - 1 ? ipv4Bytes(group) : undefined;
    if (v4) bytes.push(...v4);
    else if (/^[0-9a-f]{1,4}$/i.test(group)) {
      bytes.push(parseInt(group, 16) >> 8, parseInt(group, 16) & 0xff);
    } else return undefined;
  }
  return bytes;
}

function ipv6Bytes(text: string): number[] | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const split = (half: string) => (half === "" ? [] : half.split(":"));
  const head = groupBytes(split(halves[0]), halves.length === 1);
  const tail = halves.length === 2 ? groupBytes(split(halves[1]), true) : [];
  if (!head || !tail) return undefined;
  const missing = 16 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 2) return undefined;
  return [...head, ...new Array(missing).fill(0), ...tail];
}

/**
 * Returns the 4 or 16 bytes of an IPv4 or IPv6 address in text form ("127.0.0.1", "::1").
 *
 * @throws Error "Cannot parse IP address: ..." for anything else (including zone ids).
 */
export function ipAddressBytes(text: string): Uint8Array<ArrayBuffer> {
  const bytes = ipv4Bytes(text) ?? ipv6Bytes(text);
  if (!bytes) throw new Error(`Cannot parse IP address: "${text}" is not an IPv4 or IPv6 address`);
  return Uint8Array.from(bytes);
}
