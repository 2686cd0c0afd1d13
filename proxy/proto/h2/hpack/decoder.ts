/**
 * The HPACK decoder (RFC 7541): header blocks to name/value lists, with limits.
 *
 * Limits against HPACK bombs: the dynamic table never exceeds this side's
 * SETTINGS_HEADER_TABLE_SIZE (a larger size update is an error), and fields are only materialised
 * while the decoded header list stays within `maxListSize` (RFC 9113 6.5.2's accounting: name +
 * value + 32 per field). Past it, the block is still decoded to the end (the dynamic table must
 * stay in step with the peer's encoder) but nothing more is collected: a block of 16 KiB that
 * references one 4 KiB table entry 16,000 times costs a counter, not 64 MB.
 *
 * @module
 */
import { DynamicTable, ENTRY_OVERHEAD } from "./dynamic_table.ts";
import { huffmanDecode, HuffmanError } from "./huffman.ts";
import { STATIC_COUNT, STATIC_TABLE } from "./static_table.ts";
import { latin1 } from "../../../bytes.ts";

/** A header block that cannot be decoded: a connection error of type COMPRESSION_ERROR. */
export class HpackError extends Error {
  constructor(message: string) {
    super(`Cannot decode header block: ${message}`);
    this.name = "HpackError";
  }
}

/** Where a decoded block goes. */
export interface DecodedFields {
  /** Names in order (lowercase as received; pseudo-header names start with ":"). */
  readonly names: string[];
  readonly values: string[];
  /** Names sent as never-indexed literals (RFC 7541 7.1.3), or null when there were none. */
  sensitive: Set<string> | null;
}

export class HpackDecoder {
  readonly #table: DynamicTable;
  /** SETTINGS_HEADER_TABLE_SIZE this side advertised: the most a size update may ask for. */
  readonly #limit: number;

  constructor(maxTableSize = 4096) {
    this.#limit = maxTableSize;
    this.#table = new DynamicTable(maxTableSize);
  }

  /** Current dynamic table size (HPACK accounting). */
  get tableSize(): number {
    return this.#table.size;
  }

  /**
   * Decodes `block[start..end)`, appending fields to `out` while the header list size stays
   * within `maxListSize`. Returns the size of the whole decoded list (larger than `maxListSize`
   * when fields were left out). Throws HpackError.
   */
  decode(
    block: Uint8Array,
    start: number,
    end: number,
    out: DecodedFields,
    maxListSize: number,
  ): number {
    cursor = start;
    let listSize = 0;
    let fieldsSeen = false;
    const table = this.#table;
    while (cursor < end) {
      const b = block[cursor];
      let name: string;
      let value: string;
      if (b & 0x80) {
        const index = decodeInt(block, end, 7);
        if (index === 0) throw new HpackError("indexed field with index 0");
        if (index <= STATIC_COUNT) {
          const entry = STATIC_TABLE[index - 1];
          name = entry[0];
          value = entry[1];
        } else {
          const i = index - STATIC_COUNT;
          if (i > table.length) throw new HpackError(`index ${index} beyond the tables`);
          name = table.name(i);
          value = table.value(i);
        }
      } else if ((b & 0xe0) === 0x20) {
        if (fieldsSeen) throw new HpackError("dynamic table size update after a field");
        const size = decodeInt(block, end, 5);
        if (size > this.#limit) {
          throw new HpackError(`table size update to ${size} above the limit ${this.#limit}`);
        }
        table.setMaxSize(size);
        continue;
      } else {
        const indexing = (b & 0xc0) === 0x40;
        const index = decodeInt(block, end, indexing ? 6 : 4);
        if (index === 0) {
          name = decodeString(block, end);
        } else if (index <= STATIC_COUNT) {
          name = STATIC_TABLE[index - 1][0];
        } else {
          const i = index - STATIC_COUNT;
          if (i > table.length) throw new HpackError(`name index ${index} beyond the tables`);
          name = table.name(i);
        }
        value = decodeString(block, end);
        if (indexing) table.add(name, value);
        else if (b & 0x10) (out.sensitive ??= new Set()).add(name);
      }
      fieldsSeen = true;
      listSize += name.length + value.length + ENTRY_OVERHEAD;
      if (listSize <= maxListSize) {
        out.names.push(name);
        out.values.push(value);
      }
    }
    return listSize;
  }
}

/** Integers above this are refused (no HTTP/2 length or index comes near). */
const MAX_INT = 2 ** 32;

/** Read position of `decodeInt` and `decodeString` (one decoder runs at a time). */
let cursor = 0;

/** Sets where the next `decodeInt` reads (for tests of the integer coding). */
export function seek(position: number): void {
  cursor = position;
}

/** Position after the last `decodeInt` or `decodeString`. */
export function position(): number {
  return cursor;
}

/** Decodes the HPACK integer with a `prefix`-bit prefix at the cursor and moves past it. */
export function decodeInt(block: Uint8Array, end: number, prefix: number): number {
  const mask = (1 << prefix) - 1;
  let value = block[cursor++] & mask;
  if (value < mask) return value;
  let factor = 1;
  while (true) {
    if (cursor >= end) throw new HpackError("integer truncated");
    const b = block[cursor++];
    value += (b & 0x7f) * factor;
    if (value > MAX_INT) throw new HpackError("integer too large");
    if ((b & 0x80) === 0) return value;
    factor *= 128;
  }
}

function decodeString(block: Uint8Array, end: number): string {
  if (cursor >= end) throw new HpackError("string literal truncated");
  const huffman = (block[cursor] & 0x80) !== 0;
  const length = decodeInt(block, end, 7);
  const start = cursor;
  if (length > end - start) throw new HpackError("string literal longer than the block");
  cursor = start + length;
  if (!huffman) return latin1(block, start, cursor);
  try {
    return huffmanDecode(block, start, cursor);
  } catch (err) {
    if (err instanceof HuffmanError) throw new HpackError(err.message);
    throw err;
  }
}
