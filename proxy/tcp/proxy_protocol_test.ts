import assert from "node:assert/strict";
import { latin1, latin1Bytes } from "../testing/wire.ts";
import {
  decodeProxyHeader,
  encodeV1,
  encodeV2,
  NoProxyHeaderConn,
  proxyHeaderStart,
} from "./proxy_protocol.ts";
import { mutate, seeded } from "../testing/mutate.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

Deno.test("v1 lines as the spec writes them, IPv4 and IPv6", () => {
  assert.equal(
    new TextDecoder().decode(
      encodeV1({ address: "192.0.2.1", port: 56324 }, { address: "198.51.100.2", port: 443 }),
    ),
    "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n",
  );
  assert.equal(
    new TextDecoder().decode(
      encodeV1({ address: "2001:db8::1", port: 1 }, { address: "::1", port: 2 }),
    ),
    "PROXY TCP6 2001:db8::1 ::1 1 2\r\n",
  );
  // Mixed families: IPv4 is written as IPv4-mapped IPv6.
  assert.equal(
    new TextDecoder().decode(
      encodeV1({ address: "10.0.0.1", port: 1 }, { address: "::1", port: 2 }),
    ),
    "PROXY TCP6 ::ffff:a00:1 ::1 1 2\r\n",
  );
});

Deno.test("v2 headers byte for byte, with the authority TLV when an SNI is known", () => {
  assert.deepEqual(
    [...encodeV2({ address: "192.0.2.1", port: 0x1234 }, { address: "198.51.100.2", port: 443 })],
    [...SIG, 0x21, 0x11, 0, 12, 192, 0, 2, 1, 198, 51, 100, 2, 0x12, 0x34, 0x01, 0xbb],
  );
  const v6 = encodeV2({ address: "::1", port: 1 }, { address: "2001:db8::2", port: 2 }, "a.b");
  assert.deepEqual([...v6.subarray(12, 16)], [0x21, 0x21, 0, 36 + 6]);
  assert.deepEqual([...v6.subarray(16, 32)], [...new Array(15).fill(0), 1]);
  assert.deepEqual([...v6.subarray(32, 36)], [0x20, 0x01, 0x0d, 0xb8]);
  assert.deepEqual([...v6.subarray(48)], [0, 1, 0, 2, 0x02, 0, 3, 0x61, 0x2e, 0x62]);
});

Deno.test("decoding v1 and v2 (round trip, LOCAL, UNKNOWN, trailing bytes kept)", () => {
  const src = { address: "203.0.113.7", port: 40000 };
  const dst = { address: "10.1.2.3", port: 5432 };
  for (const header of [encodeV1(src, dst), encodeV2(src, dst, "db.test")]) {
    const data = new Uint8Array(header.length + 3);
    data.set(header);
    data.set([1, 2, 3], header.length);
    const r = decodeProxyHeader(data);
    assert.equal(r.status, "ok");
    if (r.status !== "ok") continue;
    assert.equal(r.length, header.length);
    assert.deepEqual([r.header.source, r.header.destination], [src, dst]);
    assert.equal(r.header.authority, r.header.version === 2 ? "db.test" : null);
  }
  const unknown = decodeProxyHeader(enc("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\nxyz"));
  assert.deepEqual(unknown, {
    status: "ok",
    length: 35,
    header: { version: 1, source: null, destination: null, authority: null },
  });
  const local = Uint8Array.from([...SIG, 0x20, 0x00, 0, 0]);
  assert.deepEqual(decodeProxyHeader(local), {
    status: "ok",
    length: 16,
    header: { version: 2, source: null, destination: null, authority: null },
  });
});

Deno.test("incomplete headers wait for more; malformed ones are invalid", () => {
  const full = encodeV2({ address: "1.2.3.4", port: 1 }, { address: "5.6.7.8", port: 2 });
  for (let n = 0; n < full.length; n++) {
    assert.deepEqual(decodeProxyHeader(full.subarray(0, n)), { status: "incomplete" }, `${n}`);
  }
  const line = enc("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
  for (let n = 0; n < line.length - 1; n++) {
    assert.deepEqual(decodeProxyHeader(line.subarray(0, n)), { status: "incomplete" }, `${n}`);
  }
  const bad = [
    "GET / HTTP/1.1\r\n",
    "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
    "PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
    "PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
    "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
    "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
    "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
    "PROXY TCP4 " + "1".repeat(120) + "\r\n",
  ].map(enc);
  bad.push(
    Uint8Array.from([...SIG, 0x11, 0x11, 0, 12, ...new Array(12).fill(0)]), // version 1 in v2
    Uint8Array.from([...SIG, 0x22, 0x11, 0, 12, ...new Array(12).fill(0)]), // command 2
    Uint8Array.from([...SIG, 0x21, 0x12, 0, 12, ...new Array(12).fill(0)]), // UDP
    Uint8Array.from([...SIG, 0x21, 0x11, 0, 8, ...new Array(8).fill(0)]), // short addresses
    Uint8Array.from([...SIG, 0x21, 0x11, 0, 15, ...new Array(12).fill(0), 2, 0, 9]), // bad TLV
  );
  for (const bytes of bad) {
    assert.equal(decodeProxyHeader(bytes).status, "invalid", JSON.stringify([...bytes]));
  }
});

Deno.test("proxyHeaderStart tells a header, a possible header and other bytes apart", () => {
  assert.equal(proxyHeaderStart(enc("PROXY ")), "yes");
  assert.equal(proxyHeaderStart(Uint8Array.from(SIG)), "yes");
  assert.equal(proxyHeaderStart(enc("PRO")), "maybe");
  assert.equal(proxyHeaderStart(Uint8Array.from([0x0d, 0x0a])), "maybe");
  assert.equal(proxyHeaderStart(new Uint8Array(0)), "maybe");
  assert.equal(proxyHeaderStart(enc("PING\r\n")), "no");
  assert.equal(proxyHeaderStart(Uint8Array.from([22, 3, 1])), "no");
});

Deno.test("NoProxyHeaderConn passes other bytes through and refuses a header", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    for (const [sent, refused] of [["PROTOCOL?", false], ["PROXY TCP4 1.2.3.4", true]] as const) {
      const accepted = listener.accept();
      const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
      const server = await accepted;
      // Bytes arrive one by one: the decision waits until they tell.
      for (const b of enc(sent)) await client.write(Uint8Array.of(b));
      await client.closeWrite();
      const reasons: string[] = [];
      const guarded = new NoProxyHeaderConn(server, (reason) => reasons.push(reason));
      const buf = new Uint8Array(64);
      let got = "";
      try {
        while (true) {
          const n = await guarded.read(buf);
          if (n === null) break;
          got += new TextDecoder().decode(buf.subarray(0, n));
        }
      } catch {
        got = "refused";
      }
      assert.equal(got, refused ? "refused" : sent);
      assert.equal(reasons.length, refused ? 1 : 0);
      client.close();
      server.close();
    }
  } finally {
    listener.close();
  }
});

Deno.test("a client of a unix socket has no address: v1 UNKNOWN, v2 UNSPEC with the authority", () => {
  const unix = { address: "unix:/run/gh.sock", port: 0 };
  assert.equal(new TextDecoder().decode(encodeV1(unix, unix)), "PROXY UNKNOWN\r\n");
  const v2 = encodeV2(unix, unix, "db.example");
  assert.deepEqual([...v2.subarray(0, 12)], SIG);
  assert.deepEqual([v2[12], v2[13]], [0x21, 0x00]);
  const decoded = decodeProxyHeader(v2);
  assert.equal(decoded.status, "ok");
  if (decoded.status !== "ok") return;
  assert.deepEqual(decoded.header, {
    version: 2,
    source: null,
    destination: null,
    authority: "db.example",
  });
  assert.equal(decoded.length, v2.length);
  const bare = encodeV2(unix, unix);
  assert.deepEqual([bare.length, bare[13], bare[14], bare[15]], [16, 0x00, 0, 0]);
});

Deno.test("fuzz: mutated and cut headers never throw, and a decision never changes with more bytes", () => {
  const seeds = [
    encodeV1({ address: "1.2.3.4", port: 1 }, { address: "5.6.7.8", port: 2 }),
    encodeV1({ address: "::1", port: 65535 }, { address: "2001:db8::7", port: 443 }),
    enc("PROXY UNKNOWN\r\n"),
    encodeV2({ address: "1.2.3.4", port: 1 }, { address: "5.6.7.8", port: 2 }, "a.test"),
    encodeV2({ address: "::1", port: 1 }, { address: "::2", port: 2 }),
  ].map((h) => latin1(h) + "GET / HTTP/1.1\r\n");
  const rng = seeded(0x9909);
  const words = ["\r\n", " ", "\0", "\xff", "TCP4", "TCP6", "UNKNOWN", "\x21", "\x11", "\x20"];
  let decided = 0;
  for (let k = 0; k < 5000; k++) {
    const data = latin1Bytes(mutate(rng, seeds, words));
    const full = decodeProxyHeader(data);
    const where = `case ${k}: ${JSON.stringify(latin1(data))}`;
    if (full.status === "ok") {
      decided++;
      assert.ok(full.length > 0 && full.length <= data.length, where);
      for (const end of [full.header.source, full.header.destination]) {
        if (end !== null) assert.ok(end.port >= 0 && end.port <= 65535, where);
      }
      // The header alone decides the same; any shorter prefix of it is incomplete, not invalid.
      assert.deepEqual(decodeProxyHeader(data.subarray(0, full.length)), full, where);
      const cut = Math.floor(rng() * full.length);
      assert.equal(decodeProxyHeader(data.subarray(0, cut)).status, "incomplete", where);
    } else if (full.status === "invalid") {
      decided++;
      // More bytes never turn a refusal into a header.
      const longer = new Uint8Array(data.length + 64).fill(0x20);
      longer.set(data);
      assert.equal(decodeProxyHeader(longer).status, "invalid", where);
    } else {
      // Undecided only while a header could still be complete: at most 107 bytes of a v1 line,
      // 16 plus the announced length of a v2 header.
      const limit = data[0] === 0x0d
        ? 16 + (data.length >= 16 ? (data[14] << 8 | data[15]) : 0)
        : 107;
      assert.ok(data.length < limit || data.length < 16, where);
    }
  }
  assert.ok(decided > 2500, `${decided} decided`);
});
