/** Byte strings (bytes.ts): one char per byte, both ways. */
import assert from "node:assert/strict";
import { latin1, writeLatin1 } from "./bytes.ts";

Deno.test("latin1 gives one char per byte: ASCII, obs-text and a leading BOM alike", () => {
  const bytes = (...b: number[]) => Uint8Array.from(b);
  assert.equal(latin1(bytes(0x61, 0x3a, 0x20, 0x62), 1, 4), ": b");
  assert.equal(latin1(bytes(0x61), 1, 1), "");
  // A UTF-8 decoder would make these one char, a replacement char and nothing (the BOM).
  assert.equal(latin1(bytes(0x78, 0xc3, 0xa9), 0, 3), "x\u00c3\u00a9");
  assert.equal(latin1(bytes(0x78, 0x80, 0x79), 0, 3), "x\u0080y");
  assert.equal(latin1(bytes(0xef, 0xbb, 0xbf, 0x41), 0, 4), "\u00ef\u00bb\u00bfA");
  // Longer than 12 bytes: the other ways (ASCII, and not).
  const text13 = "content-type:";
  assert.equal(latin1(new TextEncoder().encode(`.${text13}.`), 1, 14), text13);
  const bom = bytes(0xef, 0xbb, 0xbf, ...new TextEncoder().encode(text13));
  assert.equal(latin1(bom, 0, bom.length), `\u00ef\u00bb\u00bf${text13}`);
  const long = new Uint8Array(20_000).map((_, i) => 0x20 + (i % 0x60));
  long[19_999] = 0xff;
  const text = latin1(long, 0, long.length);
  assert.equal(text.length, 20_000);
  assert.equal(text.charCodeAt(19_999), 0xff);
  assert.equal(text.charCodeAt(9_000), long[9_000]);
});

Deno.test("writeLatin1 writes one byte per char, the low byte of a char above 255", () => {
  const out = new Uint8Array(20).fill(0x2e);
  const text = "a\u00e9\u00ff \u0141" + "x".repeat(12);
  assert.equal(writeLatin1(text, out, 2), 2 + text.length);
  assert.deepEqual([...out.subarray(0, 8)], [0x2e, 0x2e, 0x61, 0xe9, 0xff, 0x20, 0x41, 0x78]);
  assert.equal(latin1(out, 2, 2 + text.length), "a\u00e9\u00ff A" + "x".repeat(12));
});
