/**
 * HPACK's Huffman code (RFC 7541 5.2): encoding, and table-driven decoding.
 *
 * The decoder is a state machine that consumes one input byte per step, like nghttp2's (which
 * consumes 4 bits): its 256 states are the inner nodes of the code tree, and `DECODE_TABLE` holds,
 * for each state and input byte, the next state and the 0, 1 or 2 symbols completed on the way
 * (a code is at least 5 bits long, so one byte completes at most two). The table (256 x 256
 * entries) is generated once, when the module loads, from the code in huffman_table.ts.
 *
 * Strings are byte strings: one char per byte (char codes 0..255), as HTTP field values are.
 *
 * @module
 */
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from "./huffman_table.ts";
import { latin1 } from "../../../bytes.ts";

/** A Huffman-coded string that is not valid (EOS inside, bad padding, truncated code). */
export class HuffmanError extends Error {
  constructor(message: string) {
    super(`Cannot decode Huffman string: ${message}`);
    this.name = "HuffmanError";
  }
}

const EOS = 256;
const FAIL = 1 << 26;
const COUNT_SHIFT = 24;

/** Per state and byte: next state (bits 0-7), symbols (8-15, 16-23), their count (24-25), FAIL. */
const DECODE_TABLE = new Uint32Array(256 * 256);
/** 1 for states where the input may end: the root, or a prefix of EOS of at most 7 bits. */
const FINAL_OK = new Uint8Array(256);

buildDecodeTable();

function buildDecodeTable(): void {
  // Inner nodes of the code tree, numbered as they are created; the root is 0. A child is an
  // inner node id (>= 0) or a leaf: -1 - symbol.
  const zero: number[] = [NaN];
  const one: number[] = [NaN];
  const depth: number[] = [0];
  const allOnes: boolean[] = [true];
  for (let sym = 0; sym <= EOS; sym++) {
    const code = HUFFMAN_CODES[sym];
    const len = HUFFMAN_LENGTHS[sym];
    let node = 0;
    for (let i = len - 1; i >= 0; i--) {
      const bit = (code >>> i) & 1;
      const children = bit ? one : zero;
      if (i === 0) {
        children[node] = -1 - sym;
      } else {
        if (Number.isNaN(children[node])) {
          const id = zero.length;
          zero.push(NaN);
          one.push(NaN);
          depth.push(depth[node] + 1);
          allOnes.push(allOnes[node] && bit === 1);
          children[node] = id;
        }
        node = children[node];
      }
    }
  }
  if (zero.length !== 256) throw new Error(`Huffman tree has ${zero.length} inner nodes, not 256`);
  for (let state = 0; state < 256; state++) {
    FINAL_OK[state] = depth[state] <= 7 && allOnes[state] ? 1 : 0;
    for (let byte = 0; byte < 256; byte++) {
      let node = state;
      let count = 0;
      let syms = 0;
      let failed = false;
      for (let i = 7; i >= 0; i--) {
        const next = (byte >>> i) & 1 ? one[node] : zero[node];
        if (next >= 0) {
          node = next;
          continue;
        }
        const sym = -1 - next;
        if (sym === EOS) {
          failed = true;
          break;
        }
        syms |= sym << (8 * count);
        count++;
        node = 0;
      }
      DECODE_TABLE[state * 256 + byte] = failed
        ? FAIL
        : node | (syms << 8) | (count << COUNT_SHIFT);
    }
  }
}

let scratch = new Uint8Array(256);

/** Decodes the Huffman-coded bytes `src[start..end)` to a byte string. */
export function huffmanDecode(src: Uint8Array, start: number, end: number): string {
  // Each input byte yields at most two symbols.
  const need = (end - start) * 2;
  if (scratch.length < need) scratch = new Uint8Array(Math.max(need, scratch.length * 2));
  const out = scratch;
  let n = 0;
  let state = 0;
  for (let i = start; i < end; i++) {
    const t = DECODE_TABLE[(state << 8) | src[i]];
    if (t & FAIL) throw new HuffmanError("EOS symbol in the string");
    const count = t >>> COUNT_SHIFT;
    if (count > 0) {
      out[n++] = (t >>> 8) & 0xff;
      if (count > 1) out[n++] = (t >>> 16) & 0xff;
    }
    state = t & 0xff;
  }
  if (!FINAL_OK[state]) {
    throw new HuffmanError("padding longer than 7 bits or not a prefix of EOS");
  }
  return latin1(out, 0, n);
}

/** Length in bytes of `s` Huffman-coded. */
export function huffmanLength(s: string): number {
  let bits = 0;
  for (let i = 0; i < s.length; i++) bits += HUFFMAN_LENGTHS[s.charCodeAt(i) & 0xff];
  return (bits + 7) >>> 3;
}

/** Writes `s` Huffman-coded into `out` at `off` (room for `huffmanLength(s)`); returns the end. */
export function huffmanEncode(s: string, out: Uint8Array, off: number): number {
  // `acc` holds `bits` pending bits (< 8 between symbols); a code is added in pieces of at most
  // 16 bits, so acc never exceeds 24 bits.
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < s.length; i++) {
    const sym = s.charCodeAt(i) & 0xff;
    const code = HUFFMAN_CODES[sym];
    let len = HUFFMAN_LENGTHS[sym];
    while (len > 0) {
      const take = len > 16 ? len - 16 : len;
      len -= take;
      acc = (acc << take) | ((code >>> len) & ((1 << take) - 1));
      bits += take;
      while (bits >= 8) {
        bits -= 8;
        out[off++] = (acc >>> bits) & 0xff;
      }
      acc &= (1 << bits) - 1;
    }
  }
  if (bits > 0) out[off++] = ((acc << (8 - bits)) | (0xff >>> bits)) & 0xff;
  return off;
}
