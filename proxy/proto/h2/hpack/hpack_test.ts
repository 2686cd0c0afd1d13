/**
 * HPACK against RFC 7541 Appendix C (integers, literal fields, request and response sequences,
 * with and without Huffman coding: decoded fields, dynamic table sizes and the encoder's exact
 * bytes), Huffman round trips, and the decoder's refusals and limits.
 */
import assert from "node:assert/strict";
import { type DecodedFields, decodeInt, HpackDecoder, HpackError, seek } from "./decoder.ts";
import { encodeInt, HpackEncoder } from "./encoder.ts";
import { huffmanDecode, huffmanEncode, HuffmanError, huffmanLength } from "./huffman.ts";

function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  return Uint8Array.from(clean.match(/../g) ?? [], (h) => parseInt(h, 16));
}

function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function fields(): DecodedFields {
  return { names: [], values: [], sensitive: null };
}

function decode(dec: HpackDecoder, block: Uint8Array, max = 65536): [string, string][] {
  const out = fields();
  dec.decode(block, 0, block.length, out, max);
  return out.names.map((n, i) => [n, out.values[i]]);
}

function encode(enc: HpackEncoder, list: [string, string][], sensitive = false): string {
  enc.begin();
  for (const [n, v] of list) enc.add(n, v, sensitive);
  return toHex(enc.finish());
}

Deno.test("C.1 integers: 10 and 1337 with a 5-bit prefix, 42 with 8 bits", () => {
  const out = new Uint8Array(8);
  assert.equal(toHex(out.subarray(0, encodeInt(out, 0, 10, 5, 0))), "0a");
  assert.equal(toHex(out.subarray(0, encodeInt(out, 0, 1337, 5, 0))), "1f9a0a");
  assert.equal(toHex(out.subarray(0, encodeInt(out, 0, 42, 8, 0))), "2a");
  for (
    const [bytes, prefix, value] of [["0a", 5, 10], ["1f9a0a", 5, 1337], ["2a", 8, 42]] as const
  ) {
    const b = hex(bytes);
    seek(0);
    assert.equal(decodeInt(b, b.length, prefix), value);
  }
  const huge = hex("ff ff ff ff ff ff 0f");
  seek(0);
  assert.throws(() => decodeInt(huge, huge.length, 8), HpackError);
  const cut = hex("1f 9a");
  seek(0);
  assert.throws(() => decodeInt(cut, cut.length, 5), HpackError);
});

const C2: [string, [string, string], number, boolean][] = [
  [
    "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
    ["custom-key", "custom-header"],
    55,
    false,
  ],
  ["040c 2f73 616d 706c 652f 7061 7468", [":path", "/sample/path"], 0, false],
  ["1008 7061 7373 776f 7264 0673 6563 7265 74", ["password", "secret"], 0, true],
  ["82", [":method", "GET"], 0, false],
];

Deno.test("C.2 literal and indexed fields decode and encode exactly", () => {
  for (const [bytes, field, tableSize, sensitive] of C2) {
    const dec = new HpackDecoder();
    const out = fields();
    const block = hex(bytes);
    dec.decode(block, 0, block.length, out, 65536);
    assert.deepEqual([out.names[0], out.values[0]], field);
    assert.equal(dec.tableSize, tableSize);
    assert.deepEqual(out.sensitive, sensitive ? new Set(["password"]) : null);
    assert.equal(encode(new HpackEncoder(4096, false), [field], sensitive), toHex(block));
  }
});

const REQUESTS: [string, string][][] = [
  [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"]],
  [
    [":method", "GET"],
    [":scheme", "http"],
    [":path", "/"],
    [":authority", "www.example.com"],
    ["cache-control", "no-cache"],
  ],
  [
    [":method", "GET"],
    [":scheme", "https"],
    [":path", "/index.html"],
    [":authority", "www.example.com"],
    ["custom-key", "custom-value"],
  ],
];
const REQUEST_SIZES = [57, 110, 164];
const C3 = [
  "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
  "8286 84be 5808 6e6f 2d63 6163 6865",
  "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
];
const C4 = [
  "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
  "8286 84be 5886 a8eb 1064 9cbf",
  "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
];

const DATE1 = "Mon, 21 Oct 2013 20:13:21 GMT";
const COOKIE = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
const RESPONSES: [string, string][][] = [
  [
    [":status", "302"],
    ["cache-control", "private"],
    ["date", DATE1],
    ["location", "https://www.example.com"],
  ],
  [
    [":status", "307"],
    ["cache-control", "private"],
    ["date", DATE1],
    ["location", "https://www.example.com"],
  ],
  [
    [":status", "200"],
    ["cache-control", "private"],
    ["date", "Mon, 21 Oct 2013 20:13:22 GMT"],
    ["location", "https://www.example.com"],
    ["content-encoding", "gzip"],
    ["set-cookie", COOKIE],
  ],
];
const RESPONSE_SIZES = [222, 222, 215];
const C5 = [
  "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133" +
  "2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70" +
  "6c65 2e63 6f6d",
  "4803 3330 37c1 c0bf",
  "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d" +
  "54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049" +
  "5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e" +
  "3d31",
];
const C6 = [
  "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6" +
  "2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
  "4883 640e ffc1 c0bf",
  "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab" +
  "77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f" +
  "9587 3160 65c0 03ed 4ee5 b106 3d50 07",
];

for (
  const [name, blocks, lists, sizes, tableSize, huffman] of [
    ["C.3 requests without Huffman", C3, REQUESTS, REQUEST_SIZES, 4096, false],
    ["C.4 requests with Huffman", C4, REQUESTS, REQUEST_SIZES, 4096, true],
    ["C.5 responses without Huffman, 256-byte table", C5, RESPONSES, RESPONSE_SIZES, 256, false],
    ["C.6 responses with Huffman, 256-byte table", C6, RESPONSES, RESPONSE_SIZES, 256, true],
  ] as const
) {
  Deno.test(`${name}: decoded fields and table sizes`, () => {
    const dec = new HpackDecoder(tableSize);
    blocks.forEach((b, i) => {
      assert.deepEqual(decode(dec, hex(b)), lists[i], `block ${i + 1}`);
      assert.equal(dec.tableSize, sizes[i], `table size after block ${i + 1}`);
    });
  });

  Deno.test(`${name}: the encoder writes the same bytes`, () => {
    const enc = new HpackEncoder(tableSize, huffman);
    blocks.forEach((b, i) => {
      // An encoder limited below HPACK's initial 4096 announces its size in its first block.
      const update = tableSize < 4096 && i === 0 ? "3fe101" : "";
      assert.equal(encode(enc, lists[i] as [string, string][]), update + toHex(hex(b)));
    });
  });
}

Deno.test("Huffman: every byte value round-trips, alone and together", () => {
  const all = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
  for (const s of [all, ...all]) {
    const out = new Uint8Array(huffmanLength(s));
    assert.equal(huffmanEncode(s, out, 0), out.length);
    assert.equal(huffmanDecode(out, 0, out.length), s);
  }
});

Deno.test("Huffman: random byte strings round-trip", () => {
  for (let n = 0; n < 2000; n++) {
    const len = Math.floor(Math.random() * 64);
    const bytes = crypto.getRandomValues(new Uint8Array(len));
    const s = String.fromCharCode(...bytes);
    const out = new Uint8Array(huffmanLength(s));
    huffmanEncode(s, out, 0);
    assert.equal(huffmanDecode(out, 0, out.length), s);
  }
});

Deno.test("Huffman: refuses EOS, padding of 8 bits or more, and padding that is not all ones", () => {
  // "a" is 00011; padded with ones: 00011111.
  assert.equal(huffmanDecode(hex("1f"), 0, 1), "a");
  assert.throws(() => huffmanDecode(hex("1f ff"), 0, 2), HuffmanError); // 11 bits of padding
  // Eight 5-bit codes end on a byte boundary: one more 0xff is exactly 8 bits of padding.
  const eight = new Uint8Array(6).fill(0xff);
  assert.equal(huffmanEncode("aaaaaaaa", eight, 0), 5);
  assert.equal(huffmanDecode(eight, 0, 5), "aaaaaaaa");
  assert.throws(() => huffmanDecode(eight, 0, 6), HuffmanError);
  assert.throws(() => huffmanDecode(hex("18"), 0, 1), HuffmanError); // padded with zeros
  assert.throws(() => huffmanDecode(hex("ff ff ff ff"), 0, 4), HuffmanError); // EOS (30 ones)
  assert.equal(huffmanDecode(hex(""), 0, 0), "");
});

Deno.test("decoder: index 0, an index past the tables, and size updates it must refuse", () => {
  const refuse = (bytes: string, limit = 4096) =>
    assert.throws(() => decode(new HpackDecoder(limit), hex(bytes)), HpackError);
  refuse("80"); // indexed, index 0
  refuse("be"); // index 62 with an empty dynamic table
  refuse("7e 01 61"); // literal with indexed name 62
  refuse("3f e2 1f", 4096); // size update to 4097, above the limit
  refuse("82 20"); // size update after a field
  refuse("41 85 61"); // string longer than the block
  assert.deepEqual(decode(new HpackDecoder(), hex("20 3f e1 1f 82")), [[":method", "GET"]]);
});

Deno.test("decoder: past the list size limit it decodes on but collects nothing more", () => {
  const enc = new HpackEncoder();
  enc.begin();
  enc.add("x-big", "v".repeat(1000));
  const first = enc.finish().slice();
  const dec = new HpackDecoder();
  decode(dec, first);
  // The bomb: the 1 KiB entry referenced 1000 times by a 1000-byte block.
  const bomb = new Uint8Array(1000).fill(0xbe);
  const out = fields();
  const size = dec.decode(bomb, 0, bomb.length, out, 16 * 1024);
  assert.equal(size, 1000 * (5 + 1000 + 32));
  assert.equal(out.names.length, 15);
  // The table stays in step: a later block still decodes.
  assert.deepEqual(decode(dec, hex("be")), [["x-big", "v".repeat(1000)]]);
});

Deno.test("encoder: a lowered peer table size is announced once, the smallest first", () => {
  const enc = new HpackEncoder();
  enc.setPeerMaxTableSize(0);
  enc.setPeerMaxTableSize(100);
  assert.equal(encode(enc, [[":method", "GET"]]), "20" + "3f45" + "82");
  assert.equal(encode(enc, [[":method", "GET"]]), "82");
  const dec = new HpackDecoder();
  assert.deepEqual(decode(dec, hex("20 3f45 82")), [[":method", "GET"]]);
});

Deno.test("encoder: output decodes to the same list through evictions", () => {
  const enc = new HpackEncoder(512);
  const dec = new HpackDecoder(4096);
  for (let round = 0; round < 200; round++) {
    const list: [string, string][] = [
      [":status", String(200 + (round % 7))],
      ["x-round", String(round % 13)],
      ["x-long", "y".repeat(round % 300)],
      ["authorization", "Bearer " + round],
      ["cookie", "a=b"],
    ];
    enc.begin();
    for (const [n, v] of list) enc.add(n, v);
    const block = enc.finish();
    const out = fields();
    dec.decode(block, 0, block.length, out, 1 << 20);
    assert.deepEqual(out.names.map((n, i) => [n, out.values[i]]), list);
    assert.deepEqual(out.sensitive, new Set(["authorization", "cookie"]));
  }
});
