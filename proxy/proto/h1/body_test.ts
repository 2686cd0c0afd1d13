import assert from "node:assert/strict";
import { concatBytes } from "../../bytes.ts";
import { latin1 } from "../../testing/wire.ts";
import { givenBack } from "../../testing/buffers.ts";
import type { BodyReader } from "../message.ts";
import { bodyReader, chunkSizeLine, CRLF, LAST_CHUNK } from "./body.ts";
import { BufferedConn, UnexpectedEofError, writeAll } from "../../net/buffered_conn.ts";
import { CHUNK_SIZE, chunkBuffers } from "../../net/buffer_pool.ts";
import { type Framing, HttpParseError } from "./parse.ts";

/**
 * Sends `wire` over a real loopback connection (then closes the sending side) and reads a body
 * framed as `framing` from the receiving side. Returns the body (or the error), whether the
 * reader called it clean, and the bytes left after the body.
 */
async function readBodyOf(wire: string | Uint8Array, framing: Framing) {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await listener.accept();
  const bytes = typeof wire === "string" ? Uint8Array.from(wire, (c) => c.charCodeAt(0)) : wire;
  await client.write(bytes);
  client.close();
  const io = new BufferedConn(server, 16);
  let clean: boolean | null = null;
  const body = bodyReader(io, framing, (c) => clean = c);
  try {
    const result = body === null ? null : await readAll(body);
    const rest = latin1(await readRest(io));
    return { body: result === null ? null : latin1(result), clean, rest };
  } catch (error) {
    return { error, clean };
  } finally {
    io.close();
  }
}

/** The whole body; chunks are lent until the next read, so each is copied. */
async function readAll(body: BodyReader): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (let chunk = await body.read(); chunk !== null; chunk = await body.read()) {
    parts.push(chunk.slice());
  }
  return concatBytes(parts);
}

async function readRest(io: BufferedConn): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  io.reclaim();
  for (let chunk = await io.readSome(1024); chunk !== null; chunk = await io.readSome(1024)) {
    parts.push(chunk.slice());
    io.reclaim();
  }
  return concatBytes(parts);
}

const CHUNKED: Framing = { kind: "chunked" };

Deno.test("chunked bodies decode, with extensions, trailers and bare LF line ends", async () => {
  assert.deepEqual(
    await readBodyOf("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nGET /next", CHUNKED),
    { body: "hello world", clean: true, rest: "GET /next" },
  );
  assert.deepEqual(
    await readBodyOf('5;name=value;q="a b"\r\nhello\r\n0;last\r\n\r\n', CHUNKED),
    { body: "hello", clean: true, rest: "" },
  );
  assert.deepEqual(
    await readBodyOf("A\r\n0123456789\r\n0\r\nX-Checksum: 1\r\nX-Other: 2\r\n\r\nrest", CHUNKED),
    { body: "0123456789", clean: true, rest: "rest" },
  );
  assert.deepEqual(await readBodyOf("3\nabc\n0\n\n", CHUNKED), {
    body: "abc",
    clean: true,
    rest: "",
  });
  // Sizes beyond one read (the buffer is 16 bytes here) and in upper or lower case hex.
  const big = "x".repeat(300);
  assert.deepEqual(await readBodyOf(`12C\r\n${big}\r\n12c\r\n${big}\r\n0\r\n\r\n`, CHUNKED), {
    body: big + big,
    clean: true,
    rest: "",
  });
});

/** The status of the parse error reading `wire` as chunked raised, and that it was unclean. */
async function chunkedError(wire: string): Promise<number | string> {
  const result = await readBodyOf(wire, CHUNKED);
  assert.ok("error" in result, `accepted ${JSON.stringify(wire)}`);
  assert.equal(result.clean, false);
  const err = result.error;
  return err instanceof HttpParseError ? err.status : (err as Error).constructor.name;
}

Deno.test("chunked bodies with bad sizes or framing are refused", async () => {
  for (const size of ["zz", "-1", "+5", "0x5", "", " ", "1234567890abc", "5 5"]) {
    assert.equal(await chunkedError(`${size}\r\nhello\r\n0\r\n\r\n`), 400, JSON.stringify(size));
  }
  // Data longer than announced, or not followed by CRLF.
  assert.equal(await chunkedError("3\r\nhello\r\n0\r\n\r\n"), 400);
  assert.equal(await chunkedError("5\r\nhelloXY0\r\n\r\n"), 400);
  // Cut off: in a size line, in data, before the last chunk, in trailers.
  assert.equal(await chunkedError("5"), "UnexpectedEofError");
  assert.equal(await chunkedError("5\r\nhel"), "UnexpectedEofError");
  assert.equal(await chunkedError("5\r\nhello\r\n"), "UnexpectedEofError");
  assert.equal(await chunkedError("0\r\nX-T: 1\r\n"), "UnexpectedEofError");
});

Deno.test("chunk size lines follow RFC 9112 7.1.1: hex digits, then BWS ; token [= value]", async () => {
  for (
    const line of [
      "5;a",
      "5 ;a",
      "5\t; a = b",
      '5;a="q \\" ;x"',
      "5;a=b;c;d=e",
      "0005",
      "000000000000000005",
    ]
  ) {
    assert.deepEqual(
      await readBodyOf(`${line}\r\nhello\r\n0\r\n\r\n`, CHUNKED),
      { body: "hello", clean: true, rest: "" },
      JSON.stringify(line),
    );
  }
  for (
    const line of [
      " 5", // whitespace before the size
      "5 ", // whitespace without an extension
      "5\xa0", // no-break space, which String.trim accepts
      "5\x0b",
      "5;", // an empty extension name
      "5;a=", // an empty value
      "5;a b",
      "5;a=b c",
      '5;a="unterminated',
      "5;a=\x01",
      "5,a",
      "5\rX", // a bare CR
      "1000000000000", // 13 significant digits
    ]
  ) {
    assert.equal(
      await chunkedError(`${line}\r\nhello\r\n0\r\n\r\n`),
      400,
      JSON.stringify(line),
    );
  }
});

Deno.test("trailer lines are field lines", async () => {
  for (const trailer of ["X-T : 1", "X T: 1", "X-T", ": 1", "X-T: a\x00b", "X-T: a\rb"]) {
    assert.equal(await chunkedError(`0\r\n${trailer}\r\n\r\n`), 400, JSON.stringify(trailer));
  }
});

Deno.test("chunk size lines and trailers have size limits", async () => {
  assert.equal(
    await chunkedError(`5;${"e".repeat(5000)}\r\nhello\r\n0\r\n\r\n`),
    "HeadTooLargeError",
  );
  const trailers = Array.from({ length: 400 }, (_, i) => `X-Trailer-${i}: ${"v".repeat(40)}\r\n`);
  assert.equal(await chunkedError(`0\r\n${trailers.join("")}\r\n`), 400);
});

Deno.test("length bodies read exactly their length; close bodies read to the end", async () => {
  assert.deepEqual(await readBodyOf("hello world", { kind: "length", length: 5 }), {
    body: "hello",
    clean: true,
    rest: " world",
  });
  const short = await readBodyOf("hel", { kind: "length", length: 5 });
  assert.ok("error" in short && short.error instanceof UnexpectedEofError);
  assert.equal(short.clean, false);
  assert.deepEqual(await readBodyOf("all of it", { kind: "close" }), {
    body: "all of it",
    clean: true,
    rest: "",
  });
  assert.deepEqual(await readBodyOf("ignored", { kind: "none" }), {
    body: null,
    clean: true,
    rest: "ignored",
  });
});

Deno.test("chunkSizeLine, CRLF and LAST_CHUNK produce what the chunked reader decodes", async () => {
  const encodeChunk = (data: Uint8Array) => concatBytes([chunkSizeLine(data.length), data, CRLF]);
  const data = new TextEncoder().encode("x".repeat(1000));
  const wire = concatBytes([encodeChunk(data), encodeChunk(new Uint8Array([1, 2, 3])), LAST_CHUNK]);
  assert.equal(latin1(encodeChunk(new TextEncoder().encode("hi"))), "2\r\nhi\r\n");
  const result = await readBodyOf(wire, CHUNKED);
  assert.deepEqual(result, { body: "x".repeat(1000) + "\x01\x02\x03", clean: true, rest: "" });
});

Deno.test("a cancelled body reports an unclean end and fails further reads", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await listener.accept();
  await client.write(new TextEncoder().encode("5\r\nhello\r\n"));
  const io = new BufferedConn(server);
  let clean: boolean | null = null;
  const body = bodyReader(io, CHUNKED, (c) => clean = c)!;
  assert.equal(latin1((await body.read())!), "hello");
  body.cancel(new Error("enough"));
  assert.equal(clean, false);
  await assert.rejects(body.read(), /enough/);
  client.close();
  io.close();
});

/** A loopback pair: `send` writes raw bytes to `io`'s peer, which stays open until disposed. */
async function openPair(initialSize: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await listener.accept();
  listener.close();
  const io = new BufferedConn(server, initialSize);
  return {
    io,
    send: (bytes: string | Uint8Array) =>
      writeAll(client, typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes),
    [Symbol.dispose]() {
      client.close();
      io.close();
    },
  };
}

Deno.test("chunks lent by a body that ended in readNow stay intact while the connection reads on", async () => {
  using p = await openPair(64);
  await p.send("abcdefgh" + "GET /next HTTP/1.1\r\n\r\n");
  while (p.io.buffered < 30) await p.io.fill();
  const body = bodyReader(p.io, { kind: "length", length: 8 }, () => {})!;
  const last = body.readNow!()!;
  assert.equal(latin1(last), "abcdefgh");
  assert.equal(body.readNow!(), null, "the body ended: its last chunk is still being written");
  // The connection carries the next message at once (as a pooled upstream connection would).
  assert.equal(latin1((await p.io.readHead(1024))!), "GET /next HTTP/1.1\r");
  const next = bodyReader(p.io, { kind: "length", length: 3000 }, () => {})!;
  const sent = p.send("z".repeat(3000));
  let got = 0;
  for (let chunk = await next.read(); chunk !== null; chunk = await next.read()) {
    got += chunk.length;
  }
  await sent;
  assert.equal(got, 3000);
  assert.equal(latin1(last), "abcdefgh", "the next body's reads wrote over a lent chunk");
});

Deno.test("a streaming body reads into a pooled buffer and gives it back when it ends", async () => {
  using p = await openPair(4096);
  const size = 4 * CHUNK_SIZE;
  const pooled = new Set<ArrayBufferLike>();
  for (let round = 0; round < 2; round++) {
    const body = bodyReader(p.io, { kind: "length", length: size }, () => {})!;
    const sent = p.send(new Uint8Array(size));
    let got = 0;
    let heldWhileStreaming = false;
    for (let chunk = await body.read(); chunk !== null; chunk = await body.read()) {
      got += chunk.length;
      if (chunk.buffer.byteLength === CHUNK_SIZE) {
        pooled.add(chunk.buffer);
        heldWhileStreaming = true;
      }
    }
    await sent;
    assert.equal(got, size);
    assert.ok(heldWhileStreaming, "no read went into a pooled buffer");
    assert.ok(chunkBuffers.free >= 1, "the pooled buffer was not given back");
  }
  assert.equal(pooled.size, 1, "the second body did not reuse the first body's buffer");
});

Deno.test("a connection carrying one small message after another keeps its own buffer", async () => {
  using p = await openPair(4096);
  const message = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
  const buffers = new Set<ArrayBufferLike>();
  const lastChunks: Uint8Array[] = [];
  for (let i = 0; i < 300; i++) {
    // One message per read, as an upstream answers one request at a time.
    await p.send(message);
    assert.equal(latin1((await p.io.readHead(1024))!), "HTTP/1.1 200 OK\r\ncontent-length: 5\r");
    buffers.add(p.io.peek().buffer);
    const body = bodyReader(p.io, { kind: "length", length: 5 }, () => {})!;
    // As the HTTP/2 writer reads a response: the chunk, then the end, the chunk not yet written.
    const chunk = (await body.read())!;
    assert.equal(body.readNow!(), null);
    lastChunks.push(chunk);
  }
  assert.equal(buffers.size, 1, "the connection's buffer was replaced while small messages passed");
  assert.ok(lastChunks.every((c) => latin1(c) === "hello"), "a last chunk was written over");
});

Deno.test("a chunked body's last chunk, its end already buffered, leaves the buffer free too", async () => {
  using p = await openPair(4096);
  const buffers = new Set<ArrayBufferLike>();
  for (let i = 0; i < 300; i++) {
    await p.send("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    await p.io.readHead(1024);
    buffers.add(p.io.peek().buffer);
    const body: BodyReader = bodyReader(p.io, CHUNKED, () => {})!;
    assert.equal(latin1((await body.read())!), "hello");
    assert.equal(body.readNow!(), null);
  }
  assert.equal(buffers.size, 1, "the connection's buffer was replaced while small messages passed");
});

Deno.test("a body that ended while its last chunk was lent gives that pooled buffer back once released", async () => {
  using p = await openPair(4096);
  const size = 3 * CHUNK_SIZE;
  /** The pool's free buffers, looked at and left as they were. */
  const pooled = () => {
    const all = Array.from({ length: chunkBuffers.free }, () => chunkBuffers.take());
    for (const buf of all.toReversed()) chunkBuffers.give(buf);
    return all.map((buf) => buf.buffer);
  };
  let pooledEnds = 0;
  await givenBack(chunkBuffers, async () => {
    for (let round = 0; round < 10; round++) {
      const body = bodyReader(p.io, { kind: "length", length: size }, () => {})!;
      const sent = p.send(new Uint8Array(size).fill(97 + round));
      let got = 0;
      let last: Uint8Array | null = null;
      // As the HTTP/2 writer reads: each chunk, then a look ahead for the end (END_STREAM).
      for (let chunk: Uint8Array | null | undefined = await body.read(); chunk;) {
        got += chunk.length;
        last = chunk;
        chunk = body.readNow!();
        if (chunk === undefined) chunk = await body.read();
      }
      await sent;
      assert.equal(got, size);
      // Where the last bytes went depends on the reads; a pooled buffer is the usual case.
      if (last!.buffer.byteLength !== CHUNK_SIZE) continue;
      pooledEnds++;
      assert.ok(!pooled().includes(last!.buffer), "given back while its last chunk was lent");
      body.release!();
      assert.ok(pooled().includes(last!.buffer), "not given back on release");
      const free = chunkBuffers.free;
      body.release!();
      assert.equal(chunkBuffers.free, free, "given back twice");
    }
  });
  assert.ok(pooledEnds > 0, "no body ended in a pooled buffer");
});
