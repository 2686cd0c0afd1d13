import assert from "node:assert/strict";
import * as der from "./der.ts";

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

Deno.test("der encodes lengths in short and long form", () => {
  assert.equal(hex(der.octetString(new Uint8Array(3))), "0403000000");
  assert.equal(hex(der.octetString(new Uint8Array(200)).subarray(0, 3)), "0481c8");
  assert.equal(hex(der.octetString(new Uint8Array(300)).subarray(0, 4)), "0482012c");
});

Deno.test("der encodes unsigned integers minimally and positive", () => {
  assert.equal(hex(der.unsignedInteger(Uint8Array.of(0, 0, 1))), "020101");
  assert.equal(hex(der.unsignedInteger(Uint8Array.of(0x80))), "02020080");
  assert.equal(hex(der.unsignedInteger(Uint8Array.of(0, 0x7f))), "02017f");
  assert.equal(hex(der.smallInteger(0)), "020100");
  assert.equal(hex(der.smallInteger(2)), "020102");
});

Deno.test("der encodes object identifiers with base-128 arcs", () => {
  assert.equal(hex(der.oid("2.5.29.17")), "0603551d11");
  assert.equal(hex(der.oid("1.2.840.10045.4.3.2")), "06082a8648ce3d040302");
  assert.equal(hex(der.oid("1.2.840.113549.1.9.14")), "06092a864886f70d01090e");
});

Deno.test("der encodes named bits without trailing zero bits", () => {
  assert.equal(hex(der.namedBits([0])), "03020780");
  assert.equal(hex(der.namedBits([5, 6])), "03020106");
  assert.equal(hex(der.namedBits([8])), "0303070080");
});

Deno.test("der encodes times as UTCTime before 2050 and GeneralizedTime from 2050", () => {
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes.subarray(2));
  const utc = der.time(new Date("2036-02-03T04:05:06.789Z"));
  assert.equal(utc[0], 0x17);
  assert.equal(text(utc), "360203040506Z");
  const generalized = der.time(new Date("2050-01-01T00:00:00Z"));
  assert.equal(generalized[0], 0x18);
  assert.equal(text(generalized), "20500101000000Z");
});

Deno.test("der sorts SET OF members and encodes context tags", () => {
  assert.equal(hex(der.set(der.smallInteger(2), der.smallInteger(1))), "3106020101020102");
  assert.equal(hex(der.explicit(3, der.sequence())), "a3023000");
  assert.equal(hex(der.implicit(7, Uint8Array.of(127, 0, 0, 1))), "87047f000001");
  assert.equal(hex(der.boolean(true)), "0101ff");
});

Deno.test("der reads back what it writes and rejects truncated input", () => {
  const encoded = der.sequence(der.utf8String("a"), der.octetString(new Uint8Array(200)));
  const [outer] = der.readElements(encoded);
  assert.equal(outer.tag, 0x30);
  assert.deepEqual(outer.encoded, encoded);
  const [first, second] = der.readElements(outer.content);
  assert.equal(first.tag, 0x0c);
  assert.equal(new TextDecoder().decode(first.content), "a");
  assert.equal(second.content.length, 200);
  assert.throws(() => der.readElements(encoded.subarray(0, 10)), {
    message: "Cannot read DER: element at offset 0 runs past the end",
  });
  assert.throws(() => der.readElements(Uint8Array.of(0x30)), /runs past the end/);
});

Deno.test("der round-trips PEM with 64-column lines", () => {
  const bytes = crypto.getRandomValues(new Uint8Array(100));
  const pem = der.toPem("TEST", bytes);
  assert.match(
    pem,
    /^-----BEGIN TEST-----\n[A-Za-z0-9+/]{64}\n[A-Za-z0-9+/]{64}\n[A-Za-z0-9+/]{6}==\n-----END TEST-----\n$/,
  );
  assert.deepEqual(der.fromPem("TEST", `junk\n${pem}`), bytes);
  assert.throws(() => der.fromPem("OTHER", pem), {
    message: 'Cannot read PEM: no "OTHER" block found',
  });
});
