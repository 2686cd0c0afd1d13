/**
 * The HPACK encoder (RFC 7541): fields to a header block, into one reused buffer.
 *
 * Lookups go through Maps (static and dynamic, by field and by name). Fields are added to the
 * dynamic table unless their values change on every message (`NO_INDEX`: a table entry nobody
 * reuses only evicts useful ones) or are secrets (`NEVER_INDEX`, sent as never-indexed literals,
 * which intermediaries must keep that way: RFC 7541 7.1). Strings are Huffman-coded unless that
 * makes them longer.
 *
 * ```ts
 * const enc = new HpackEncoder();
 * enc.begin();
 * enc.add(":status", "200");
 * enc.add("content-type", "text/plain");
 * const block = enc.finish(); // valid until the next begin()
 * ```
 *
 * @module
 */
import { DynamicTable, ENTRY_OVERHEAD } from "./dynamic_table.ts";
import { huffmanEncode, huffmanLength } from "./huffman.ts";
import { STATIC_COUNT, STATIC_FIELD_INDEX, STATIC_NAME_INDEX } from "./static_table.ts";
import { writeLatin1 } from "../../../bytes.ts";

/** Fields whose values differ between messages: literal without indexing. */
const NO_INDEX = new Set([
  ":path",
  "content-length",
  "content-range",
  "etag",
  "last-modified",
  "if-modified-since",
  "if-none-match",
  "age",
  "x-request-id",
  "grpc-timeout",
  "grpc-message",
]);

/** Secrets: never-indexed literals, so no intermediary indexes them either (RFC 7541 7.1.3). */
const NEVER_INDEX = new Set(["authorization", "proxy-authorization"]);

/** Cookies shorter than this are never indexed (guessable by a compression oracle). */
const SHORT_COOKIE = 20;

export class HpackEncoder {
  #buf = new Uint8Array(256);
  #len = 0;
  readonly #table: DynamicTable;
  /** Largest table this encoder will use (the peer may allow more). */
  readonly #cap: number;
  /** Smallest and last table size to announce at the next block start, or -1. */
  #minPending = -1;
  #lastPending = -1;
  /** name -> value -> insertion number of the newest dynamic entry with both. */
  readonly #byField = new Map<string, Map<string, number>>();
  /** name -> insertion number of the newest dynamic entry with that name. */
  readonly #byName = new Map<string, number>();

  readonly #huffman: boolean;

  /**
   * `maxTableSize`: the largest dynamic table to use (default 4096, HPACK's initial size);
   * `huffman`: Huffman-code strings unless that makes them longer (default true).
   */
  constructor(maxTableSize = 4096, huffman = true) {
    this.#cap = maxTableSize;
    this.#huffman = huffman;
    this.#table = new DynamicTable(Math.min(4096, maxTableSize), (name, value, seq) => {
      const values = this.#byField.get(name);
      if (values?.get(value) === seq) {
        values.delete(value);
        if (values.size === 0) this.#byField.delete(name);
      }
      if (this.#byName.get(name) === seq) this.#byName.delete(name);
    });
    if (maxTableSize < 4096) this.#minPending = this.#lastPending = maxTableSize;
  }

  /** The peer's SETTINGS_HEADER_TABLE_SIZE changed: use min(it, our cap) from the next block. */
  setPeerMaxTableSize(size: number): void {
    const next = Math.min(size, this.#cap);
    if (next === this.#table.maxSize && this.#lastPending < 0) return;
    this.#minPending = this.#minPending < 0 ? next : Math.min(this.#minPending, next);
    this.#lastPending = next;
  }

  /** Starts a header block (the previous block's bytes become invalid). */
  begin(): void {
    this.#len = 0;
    if (this.#lastPending >= 0) {
      if (this.#minPending < this.#lastPending) this.#sizeUpdate(this.#minPending);
      this.#sizeUpdate(this.#lastPending);
      this.#minPending = this.#lastPending = -1;
    }
  }

  /**
   * Adds one field; `name` must be lowercase. `sensitive` sends it as a never-indexed literal
   * whatever its name.
   */
  add(name: string, value: string, sensitive = false): void {
    this.#ensure(name.length + value.length + 20);
    const staticIndex = STATIC_FIELD_INDEX.get(name)?.get(value);
    if (staticIndex !== undefined) {
      this.#int(staticIndex, 7, 0x80);
      return;
    }
    const table = this.#table;
    const oldest = table.inserted - table.length;
    const values = this.#byField.get(name);
    const seq = values?.get(value);
    if (seq !== undefined && seq > oldest) {
      this.#int(STATIC_COUNT + table.inserted - seq + 1, 7, 0x80);
      return;
    }
    let nameIndex = STATIC_NAME_INDEX.get(name) ?? 0;
    if (nameIndex === 0) {
      const nameSeq = this.#byName.get(name);
      if (nameSeq !== undefined && nameSeq > oldest) {
        nameIndex = STATIC_COUNT + table.inserted - nameSeq + 1;
      }
    }
    if (
      sensitive || NEVER_INDEX.has(name) || (name === "cookie" && value.length < SHORT_COOKIE)
    ) {
      this.#literal(nameIndex, name, value, 4, 0x10);
      return;
    }
    const size = name.length + value.length + ENTRY_OVERHEAD;
    if (NO_INDEX.has(name) || size > (table.maxSize * 3) / 4) {
      this.#literal(nameIndex, name, value, 4, 0x00);
      return;
    }
    this.#literal(nameIndex, name, value, 6, 0x40);
    if (table.add(name, value)) {
      // Evictions made room for the entry: the name's map may be gone.
      const now = this.#byField.get(name);
      if (now) now.set(value, table.inserted);
      else this.#byField.set(name, new Map([[value, table.inserted]]));
      this.#byName.set(name, table.inserted);
    }
  }

  /** The block built since `begin()`: a view of the reused buffer, valid until the next begin(). */
  finish(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }

  #sizeUpdate(size: number): void {
    this.#ensure(6);
    this.#int(size, 5, 0x20);
    this.#table.setMaxSize(size);
  }

  #literal(nameIndex: number, name: string, value: string, prefix: number, bits: number): void {
    this.#int(nameIndex, prefix, bits);
    if (nameIndex === 0) this.#string(name);
    this.#string(value);
  }

  #string(s: string): void {
    const hlen = this.#huffman ? huffmanLength(s) : Infinity;
    if (hlen <= s.length) {
      this.#int(hlen, 7, 0x80);
      this.#len = huffmanEncode(s, this.#buf, this.#len);
    } else {
      this.#int(s.length, 7, 0);
      this.#len = writeLatin1(s, this.#buf, this.#len);
    }
  }

  #int(value: number, prefix: number, bits: number): void {
    this.#len = encodeInt(this.#buf, this.#len, value, prefix, bits);
  }

  #ensure(more: number): void {
    if (this.#len + more <= this.#buf.length) return;
    const grown = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + more));
    grown.set(this.#buf.subarray(0, this.#len));
    this.#buf = grown;
  }
}

/**
 * Writes `value` as an HPACK integer with a `prefix`-bit prefix (the other bits of the first byte
 * are `bits`) at `off`; returns the end.
 */
export function encodeInt(
  out: Uint8Array,
  off: number,
  value: number,
  prefix: number,
  bits: number,
): number {
  const mask = (1 << prefix) - 1;
  if (value < mask) {
    out[off++] = bits | value;
    return off;
  }
  out[off++] = bits | mask;
  value -= mask;
  while (value >= 128) {
    out[off++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  out[off++] = value;
  return off;
}
