import assert from "node:assert/strict";
import { MAX_HELLO_BYTES, MAX_RECORD_LENGTH, parseClientHello } from "./client_hello.ts";

/** The first bytes a real TLS client (Deno's rustls) sends, with this SNI and ALPN. */
async function capturedHello(serverName: string, alpn?: string[]): Promise<Uint8Array> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const client = Deno.startTls(tcp, { hostname: serverName, alpnProtocols: alpn });
  const server = await accepted;
  const buf = new Uint8Array(64 * 1024);
  let have = 0;
  // Read until a whole record is in: its length is in bytes 3-4.
  while (have < 5 || have < 5 + ((buf[3] << 8) | buf[4])) {
    const n = await server.read(buf.subarray(have));
    if (n === null) break;
    have += n;
  }
  server.close();
  listener.close();
  await client.then((c) => c.handshake()).catch(() => {});
  return buf.slice(0, have);
}

/** Splits the handshake message of a single-record hello over records of `size` bytes. */
function fragment(hello: Uint8Array, size: number): Uint8Array {
  const body = hello.subarray(5);
  const out: number[] = [];
  for (let off = 0; off < body.length; off += size) {
    const part = body.subarray(off, off + size);
    out.push(22, 3, 1, part.length >> 8, part.length & 0xff, ...part);
  }
  return Uint8Array.from(out);
}

/** A deterministic xorshift generator, so a failing case can be replayed. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

Deno.test("a real ClientHello gives its SNI (lowercased) and ALPN", async () => {
  const hello = await capturedHello("Api.Example.TEST", ["h2", "postgresql"]);
  assert.deepEqual(parseClientHello(hello), {
    status: "ok",
    hello: { sni: "api.example.test", alpn: ["h2", "postgresql"] },
  });
});

Deno.test("a ClientHello without SNI or ALPN (an IP address as server name)", async () => {
  const hello = await capturedHello("127.0.0.1");
  assert.deepEqual(parseClientHello(hello), { status: "ok", hello: { sni: null, alpn: [] } });
});

Deno.test("every strict prefix of a ClientHello is incomplete; bytes after it are ignored", async () => {
  const hello = await capturedHello("a.test", ["h2"]);
  for (let n = 0; n < hello.length; n++) {
    assert.deepEqual(parseClientHello(hello.subarray(0, n)), { status: "incomplete" }, `${n}`);
  }
  const more = new Uint8Array(hello.length + 10);
  more.set(hello);
  assert.equal(parseClientHello(more).status, "ok");
});

Deno.test("a ClientHello split over many records (down to one byte each) is reassembled", async () => {
  const hello = await capturedHello("b.test", ["http/1.1"]);
  for (const size of [1, 2, 3, 7, 100, 16_384]) {
    const split = fragment(hello, size);
    assert.deepEqual(parseClientHello(split), {
      status: "ok",
      hello: { sni: "b.test", alpn: ["http/1.1"] },
    }, `records of ${size}`);
    for (const n of [split.length - 1, Math.floor(split.length / 2)]) {
      assert.equal(parseClientHello(split.subarray(0, n)).status, "incomplete");
    }
  }
});

Deno.test("not TLS, other record types, oversized records and messages are invalid", async () => {
  const invalid = (bytes: number[] | Uint8Array) =>
    parseClientHello(Uint8Array.from(bytes)).status === "invalid";
  assert.ok(invalid(new TextEncoder().encode("GET / HTTP/1.1\r\n")));
  assert.ok(invalid(new TextEncoder().encode("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n")));
  assert.ok(invalid([0x80, 0x2e, 0x01])); // SSLv2 hello
  assert.ok(invalid([23, 3, 3, 0, 5])); // application data
  assert.ok(invalid([22, 4, 0, 0, 5])); // record version 4.0
  assert.ok(invalid([22, 3, 1, 0, 0])); // empty record
  const big = MAX_RECORD_LENGTH + 1;
  assert.ok(invalid([22, 3, 1, big >> 8, big & 0xff])); // record over 2^14
  assert.ok(invalid([22, 3, 1, 0, 4, 2, 0, 0, 0])); // ServerHello, not ClientHello
  assert.ok(invalid([22, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff])); // 16 MiB ClientHello
  const hello = await capturedHello("a.test");
  const twice = new Uint8Array(hello.length * 2);
  twice.set(hello);
  twice.set(hello, hello.length);
  assert.equal(parseClientHello(twice).status, "ok");
  // A ClientHello that never ends within the bound is invalid once the bound is reached.
  // (28 KiB announced, sent one byte per record: the record headers exhaust the bound first).
  const padded = new Uint8Array(MAX_HELLO_BYTES);
  for (let off = 0; off + 6 <= padded.length; off += 6) padded.set([22, 3, 1, 0, 1, 0], off);
  padded.set(fragment(Uint8Array.from([22, 3, 1, 0, 4, 1, 0, 0x70, 0x00]), 1));
  assert.equal(parseClientHello(padded.subarray(0, 30_000)).status, "incomplete");
  assert.deepEqual(parseClientHello(padded), {
    status: "invalid",
    reason: `no complete ClientHello in ${MAX_HELLO_BYTES} bytes`,
  });
});

Deno.test("malformed extensions: duplicate, two host names, bad names, bad lengths", () => {
  const build = (extensions: number[]) => {
    const body = [3, 3, ...new Array(32).fill(7), 0, 0, 2, 0x13, 0x01, 1, 0];
    body.push(extensions.length >> 8, extensions.length & 0xff, ...extensions);
    const hs = [1, 0, body.length >> 8, body.length & 0xff, ...body];
    return Uint8Array.from([22, 3, 1, hs.length >> 8, hs.length & 0xff, ...hs]);
  };
  const sni = (...names: string[]) => {
    const list = names.flatMap((n) => [0, 0, n.length, ...new TextEncoder().encode(n)]);
    return [0, 0, 0, list.length + 2, 0, list.length, ...list];
  };
  assert.deepEqual(parseClientHello(build(sni("x.test"))), {
    status: "ok",
    hello: { sni: "x.test", alpn: [] },
  });
  const reasons = [
    build([...sni("x.test"), ...sni("y.test")]),
    build(sni("x.test", "y.test")),
    build(sni("x test")),
    build(sni("x.test.")),
    build(sni("")),
    build([0, 16, 0, 4, 0, 2, 0, 0]), // ALPN with an empty protocol name
    build([0, 5, 0, 10, 1]), // extension longer than its block
  ].map((bytes) => {
    const r = parseClientHello(bytes);
    assert.equal(r.status, "invalid");
    return r.status === "invalid" ? r.reason : "";
  });
  assert.deepEqual(reasons, [
    "extension 0 appears twice",
    "more than one host_name in server_name",
    "host_name holds a byte that is not a name character",
    "host_name has an empty label",
    "host_name length out of range",
    "bad ALPN protocol entry",
    "truncated extension",
  ]);
});

Deno.test("fuzz: thousands of truncated, mutated, oversized and random inputs never throw", async () => {
  const hellos = [
    await capturedHello("a.test", ["h2", "http/1.1"]),
    await capturedHello("c.b.test"),
  ].flatMap((h) => [h, fragment(h, 5), fragment(h, 1)]);
  const next = rng(0x5eed);
  const started = performance.now();
  let cases = 0;
  const check = (bytes: Uint8Array) => {
    cases++;
    const r = parseClientHello(bytes);
    assert.ok(["ok", "incomplete", "invalid"].includes(r.status));
  };
  for (const hello of hellos) {
    for (let i = 0; i < 1500; i++) {
      const bytes = hello.slice(0, 1 + (next() % hello.length));
      const flips = 1 + (next() % 8);
      for (let f = 0; f < flips; f++) bytes[next() % bytes.length] = next() & 0xff;
      check(bytes);
    }
    for (let i = 0; i < 300; i++) {
      // Lengths at the edges: every 16-bit and 24-bit length field set to extremes.
      const bytes = hello.slice();
      const at = next() % (bytes.length - 2);
      bytes[at] = 0xff;
      bytes[at + 1] = next() & 1 ? 0xff : 0;
      check(bytes);
    }
  }
  for (let i = 0; i < 3000; i++) {
    const bytes = new Uint8Array(next() % 4096);
    for (let j = 0; j < bytes.length; j++) bytes[j] = next() & 0xff;
    if (next() & 1) bytes.set([22, 3, next() & 3], 0);
    check(bytes);
  }
  for (let i = 0; i < 20; i++) {
    // Oversized: handshake records up to and past the bound.
    const bytes = new Uint8Array(MAX_HELLO_BYTES + (next() % 4096));
    for (let j = 0; j < bytes.length; j++) bytes[j] = next() & 0xff;
    bytes.set([22, 3, 1, 0x40, 0x00, 1, 0, 0x7f, 0xff], 0);
    check(bytes);
  }
  assert.ok(cases > 10_000, `${cases} cases`);
  // Linear work: the whole run takes well under the peek deadline (generous for slow CI).
  assert.ok(performance.now() - started < 10_000, `${performance.now() - started} ms`);
});
