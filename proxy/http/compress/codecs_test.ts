import assert from "node:assert/strict";
import zlib from "node:zlib";
import { type BodyReader, readWhole } from "../../proto/message.ts";
import { type Codec, codecMemory, decodeBody, encodeBody } from "./codecs.ts";
import { decoderBytes, encoderBytes } from "./codec_memory.ts";

const C = zlib.constants;
const text = new TextEncoder().encode(
  Array.from({ length: 3000 }, (_, i) => `{"id":${i},"name":"item ${i % 97}"}`).join(","),
);

/** A body of `chunks`, recording reads and cancellation. */
function source(chunks: Uint8Array[]) {
  const state = { reads: 0, cancelled: null as unknown };
  const body: BodyReader = {
    length: -1,
    read() {
      state.reads++;
      return Promise.resolve(chunks.shift() ?? null);
    },
    cancel(reason) {
      state.cancelled = reason ?? "cancelled";
    },
  };
  return { body, state };
}

function split(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.slice(i, i + size));
  return out;
}

const DECODE_SYNC: Record<Codec, (b: Uint8Array) => Uint8Array> = {
  gzip: zlib.gunzipSync,
  br: zlib.brotliDecompressSync,
  zstd: zlib.zstdDecompressSync,
};

Deno.test("each codec's output decodes to the input with node:zlib", async () => {
  for (const codec of ["gzip", "br", "zstd"] as const) {
    const out = await readWhole(encodeBody(source(split(text, 7000)).body, codec, 3)!);
    assert.ok(out.length < text.length / 3, `${codec}: ${out.length} bytes`);
    assert.deepEqual(new Uint8Array(DECODE_SYNC[codec](out)), text, codec);
  }
});

Deno.test("an empty body still encodes to a valid stream", async () => {
  for (const codec of ["gzip", "br", "zstd"] as const) {
    const out = await readWhole(encodeBody(source([]).body, codec, 1)!);
    assert.ok(out.length > 0, codec);
    assert.equal(DECODE_SYNC[codec](out).length, 0, codec);
  }
});

Deno.test("each decoder restores what node:zlib encoded, deflate with or without zlib wrapper", async () => {
  const encoded: [Parameters<typeof decodeBody>[1], Uint8Array][] = [
    ["gzip", zlib.gzipSync(text)],
    ["deflate", zlib.deflateSync(text)],
    ["deflate", zlib.deflateRawSync(text)],
    ["br", zlib.brotliCompressSync(text)],
    ["zstd", zlib.zstdCompressSync(text)],
  ];
  for (const [coding, bytes] of encoded) {
    const out = await readWhole(decodeBody(source(split(bytes, 1000)).body, coding)!);
    assert.deepEqual(out, text, coding);
  }
});

Deno.test("encoders flush each source chunk: the output so far decodes to the input so far", async () => {
  const events = ["data: one\n\n", "data: two\n\n", "data: three\n\n"];
  const finish = { gzip: C.Z_SYNC_FLUSH, br: C.BROTLI_OPERATION_FLUSH, zstd: C.ZSTD_e_flush };
  for (const codec of ["gzip", "br", "zstd"] as const) {
    const chunks = events.map((e) => new TextEncoder().encode(e));
    const { body, state } = source(chunks);
    const encoded = encodeBody(body, codec, 4)!;
    let wire = new Uint8Array(0);
    for (let i = 0; i < events.length; i++) {
      wire = Buffer.concat([wire, (await encoded.read())!]);
      assert.equal(state.reads, i + 1, `${codec}: read ahead of the consumer`);
      const partial = codec === "gzip"
        ? zlib.gunzipSync(wire, { finishFlush: finish.gzip })
        : codec === "br"
        ? zlib.brotliDecompressSync(wire, { finishFlush: finish.br })
        : zlib.zstdDecompressSync(wire, { finishFlush: finish.zstd });
      assert.equal(new TextDecoder().decode(partial), events.slice(0, i + 1).join(""), codec);
    }
    await readWhole(encoded);
  }
});

Deno.test("the source is read only as fast as the consumer reads, even for a bomb", async () => {
  const bomb = zlib.gzipSync(new Uint8Array(256 * 1024 * 1024));
  const { body, state } = source([...split(bomb, 16 * 1024)]);
  const decoded = decodeBody(body, "gzip")!;
  let got = 0;
  for (let i = 0; i < 8; i++) {
    const chunk = (await decoded.read())!;
    assert.ok(chunk.length <= 64 * 1024, `chunk of ${chunk.length} bytes`);
    got += chunk.length;
  }
  assert.equal(state.reads, 1);
  assert.ok(got < 1024 * 1024);
  decoded.cancel(new Error("client left"));
  assert.ok(state.cancelled instanceof Error);
});

Deno.test("cancelling an encoded body cancels its source", async () => {
  const { body, state } = source(split(text, 1000));
  const encoded = encodeBody(body, "zstd", 1)!;
  await encoded.read();
  encoded.cancel("gone");
  assert.equal(state.cancelled, "gone");
  assert.equal(await encoded.read(), null);
});

Deno.test("a corrupt encoded body fails with a message naming the coding, and is released", async () => {
  const { body, state } = source([new TextEncoder().encode("this is not gzip at all")]);
  const decoded = decodeBody(body, "gzip")!;
  await assert.rejects(
    () => readWhole(decoded),
    /Cannot complete gzip decoding of the response body/,
  );
  assert.ok(state.cancelled instanceof Error);
});

Deno.test("a failing source fails the encoded body with the source's error", async () => {
  const broken: BodyReader = {
    length: -1,
    read: () => Promise.reject(new Error("upstream reset")),
    cancel() {},
  };
  await assert.rejects(() => readWhole(encodeBody(broken, "gzip", 1)!), /upstream reset/);
});

Deno.test("encoders take their memory from the isolate's budget and give it back however they end", async () => {
  const budget = codecMemory.total;
  assert.equal(codecMemory.available, budget);
  const whole = encodeBody(source(split(text, 7000)).body, "br", 4)!;
  assert.equal(codecMemory.available, budget - encoderBytes("br", 4));
  await readWhole(whole);
  assert.equal(codecMemory.available, budget, "ended");

  const cancelled = encodeBody(source(split(text, 1000)).body, "zstd", 1)!;
  await cancelled.read();
  cancelled.cancel("client left");
  assert.equal(codecMemory.available, budget, "cancelled");

  const broken: BodyReader = {
    length: -1,
    read: () => Promise.reject(new Error("upstream reset")),
    cancel() {},
  };
  await assert.rejects(() => readWhole(encodeBody(broken, "gzip", 1)!));
  assert.equal(codecMemory.available, budget, "failed");

  // Spent: no encoder until one is given back.
  const held = Array.from(
    { length: Math.floor(budget / encoderBytes("gzip", 1)) },
    () => encodeBody(source([text]).body, "gzip", 1)!,
  );
  assert.equal(encodeBody(source([text]).body, "gzip", 1), null);
  held.pop()!.cancel();
  const next = encodeBody(source([text]).body, "gzip", 1);
  assert.ok(next !== null, "a place given back is taken again");
  for (const body of [...held, next]) body.cancel();
  assert.equal(codecMemory.available, budget);
});

Deno.test("decoders take what their coding's largest window holds and give it back however they end", async () => {
  const budget = codecMemory.total;
  const gz = new Uint8Array(zlib.gzipSync(text));
  const whole = decodeBody(source(split(gz, 700)).body, "gzip")!;
  assert.equal(codecMemory.available, budget - decoderBytes("gzip"));
  assert.deepEqual(await readWhole(whole), text);
  assert.equal(codecMemory.available, budget, "ended");

  const cancelled = decodeBody(source(split(gz, 700)).body, "br")!;
  assert.equal(codecMemory.available, budget - decoderBytes("br"));
  cancelled.cancel("client left");
  assert.equal(codecMemory.available, budget, "cancelled");

  // Spent: no decoder until one is given back.
  const held = Array.from(
    { length: Math.floor(budget / decoderBytes("zstd")) },
    () => decodeBody(source([gz]).body, "zstd")!,
  );
  assert.equal(decodeBody(source([gz]).body, "zstd"), null);
  held.pop()!.cancel();
  const next = decodeBody(source([gz]).body, "zstd");
  assert.ok(next !== null, "a place given back is taken again");
  for (const body of [...held, next]) body.cancel();
  assert.equal(codecMemory.available, budget);
});
