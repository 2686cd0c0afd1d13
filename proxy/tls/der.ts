/**
 * The small part of ASN.1 DER that X.509 certificates and PKCS#10 requests need: encoders for
 * the universal types, a reader to walk an encoded structure, and PEM armour.
 *
 * @module
 */
import { concatBytes } from "../bytes.ts";

/** Bytes backed by a plain ArrayBuffer, as Web Crypto accepts. */
export type Bytes = Uint8Array<ArrayBuffer>;

/** Concatenates byte arrays. */
export function concat(...parts: Bytes[]): Bytes {
  return concatBytes(parts);
}

function encodeLength(length: number): Bytes {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** Encodes one tag-length-value element; `tag` is the whole identifier octet. */
export function tlv(tag: number, content: Bytes): Bytes {
  return concat(Uint8Array.of(tag), encodeLength(content.length), content);
}

/** SEQUENCE of already encoded elements. */
export function sequence(...items: Bytes[]): Bytes {
  return tlv(0x30, concat(...items));
}

/** SET of already encoded elements; DER order is sorted by encoding, as SET OF requires. */
export function set(...items: Bytes[]): Bytes {
  const sorted = [...items].sort((a, b) => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      if (a[i] !== b[i]) return a[i] - b[i];
    }
    return a.length - b.length;
  });
  return tlv(0x31, concat(...sorted));
}

/** INTEGER from an unsigned big-endian magnitude (a serial number, an ECDSA r or s). */
export function unsignedInteger(magnitude: Bytes): Bytes {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  const content = trimmed.length === 0 || trimmed[0] & 0x80
    ? concat(Uint8Array.of(0), trimmed)
    : trimmed;
  return tlv(0x02, content);
}

/** INTEGER from a small non-negative number (a version, a path length). */
export function smallInteger(value: number): Bytes {
  return unsignedInteger(Uint8Array.of(value));
}

/** BOOLEAN. */
export function boolean(value: boolean): Bytes {
  return tlv(0x01, Uint8Array.of(value ? 0xff : 0));
}

/** OBJECT IDENTIFIER from dotted form, e.g. "2.5.29.17". */
export function oid(dotted: string): Bytes {
  const [first, second, ...rest] = dotted.split(".").map(Number);
  const bytes: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    const chunk = [arc & 0x7f];
    for (let value = Math.floor(arc / 128); value > 0; value = Math.floor(value / 128)) {
      chunk.unshift(0x80 | (value & 0x7f));
    }
    bytes.push(...chunk);
  }
  return tlv(0x06, Uint8Array.from(bytes));
}

/** BIT STRING holding whole bytes (a public key, a signature). */
export function bitString(bytes: Bytes): Bytes {
  return tlv(0x03, concat(Uint8Array.of(0), bytes));
}

/** BIT STRING of named bits (bit 0 is the most significant), trailing zero bits dropped. */
export function namedBits(bits: number[]): Bytes {
  const highest = Math.max(...bits);
  const bytes = new Uint8Array(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[Math.floor(bit / 8)] |= 0x80 >> (bit % 8);
  return tlv(0x03, concat(Uint8Array.of(7 - (highest % 8)), bytes));
}

/** OCTET STRING. */
export function octetString(bytes: Bytes): Bytes {
  return tlv(0x04, bytes);
}

/** UTF8String. */
export function utf8String(text: string): Bytes {
  return tlv(0x0c, new TextEncoder().encode(text));
}

/** UTCTime up to 2049, GeneralizedTime from 2050, as RFC 5280 requires; seconds precision. */
export function time(date: Date): Bytes {
  const digits = date.toISOString().replace(/\.\d+Z$/, "Z").replace(/[-:T]/g, "");
  const year = date.getUTCFullYear();
  if (year >= 1950 && year < 2050) return tlv(0x17, new TextEncoder().encode(digits.slice(2)));
  return tlv(0x18, new TextEncoder().encode(digits));
}

/** Explicitly tagged, constructed context-specific element `[n]`. */
export function explicit(n: number, ...items: Bytes[]): Bytes {
  return tlv(0xa0 | n, concat(...items));
}

/** Implicitly tagged, primitive context-specific element `[n]` (GeneralName choices). */
export function implicit(n: number, content: Bytes): Bytes {
  return tlv(0x80 | n, content);
}

/** One element found by `readElements`: its tag, its whole encoding and its content. */
export interface Element {
  tag: number;
  encoded: Bytes;
  content: Bytes;
}

/** Splits concatenated DER elements (the content of a SEQUENCE, say) into elements. */
export function readElements(bytes: Bytes): Element[] {
  const elements: Element[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const tag = bytes[offset];
    let length = bytes[offset + 1];
    let header = 2;
    if (length & 0x80) {
      const count = length & 0x7f;
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + bytes[offset + 2 + i];
      header += count;
    }
    const end = offset + header + length;
    if (!(end <= bytes.length)) {
      throw new Error(`Cannot read DER: element at offset ${offset} runs past the end`);
    }
    elements.push({
      tag,
      encoded: bytes.subarray(offset, end),
      content: bytes.subarray(offset + header, end),
    });
    offset = end;
  }
  return elements;
}

/** Wraps DER bytes as PEM with the given label ("CERTIFICATE", "PRIVATE KEY"). */
export function toPem(label: string, der: Bytes): string {
  const lines = der.toBase64().match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** Reads the first PEM block with the given label back to DER bytes. */
export function fromPem(label: string, pem: string): Bytes {
  const match = new RegExp(`-----BEGIN ${label}-----([^-]*)-----END ${label}-----`).exec(pem);
  if (!match) throw new Error(`Cannot read PEM: no "${label}" block found`);
  return Uint8Array.fromBase64(match[1].replace(/\s+/g, ""));
}
