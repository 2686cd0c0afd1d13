import assert from "node:assert/strict";
import { ipAddressBytes } from "./ip_address.ts";

Deno.test("ipAddressBytes reads IPv4 addresses", () => {
  assert.deepEqual(ipAddressBytes("127.0.0.1"), Uint8Array.of(127, 0, 0, 1));
  assert.deepEqual(ipAddressBytes("255.255.255.255"), Uint8Array.of(255, 255, 255, 255));
});

Deno.test("ipAddressBytes reads IPv6 addresses, compressed or with an IPv4 tail", () => {
  const loopback = new Uint8Array(16);
  loopback[15] = 1;
  assert.deepEqual(ipAddressBytes("::1"), loopback);
  assert.deepEqual(ipAddressBytes("0:0:0:0:0:0:0:1"), loopback);
  assert.deepEqual(ipAddressBytes("::"), new Uint8Array(16));
  assert.deepEqual(
    ipAddressBytes("2001:DB8::ffff:1.2.3.4"),
    Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4),
  );
  assert.deepEqual(
    ipAddressBytes("fe80::"),
    Uint8Array.of(0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
  );
});

Deno.test("ipAddressBytes rejects anything else", () => {
  const bad = [
    "",
    "localhost",
    "1.2.3",
    "1.2.3.256",
    "127.1",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8:9",
    "1::2::3",
    "1:2:3:4::5:6:7:8",
    "12345::",
    "1.2.3.4::",
    "fe80::1%eth0",
  ];
  for (const text of bad) {
    assert.throws(() => ipAddressBytes(text), {
      message: `Cannot parse IP address: "${text}" is not an IPv4 or IPv6 address`,
    }, text);
  }
});
