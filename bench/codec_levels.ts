/**
 * Speed and ratio of each response codec and level on a 100 KiB JSON body, as Gatehouse's
 * compression stage runs them (node:zlib, streamed in 16 KiB chunks with a flush after each):
 * the measurements behind the default levels in config (compression.levels).
 *
 *   deno run bench/codec_levels.ts [--time-ms 300] [--chunk 16384] [--size 102400]
 *
 * Prints one line per codec and level: input MB/s on one core (best of five rounds),
 * compressed size and ratio (input bytes / output bytes).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type Codec, encodeBody } from "../proxy/http/compress/codecs.ts";
import type { BodyReader } from "../proxy/proto/message.ts";

const LEVELS: Record<Codec, number[]> = {
  gzip: [1, 2, 3, 4, 5, 6, 9],
  br: [0, 1, 2, 3, 4, 5, 6, 9, 11],
  zstd: [1, 2, 3, 4, 6, 9, 12, 19],
};

/** A 100 KiB API-style JSON array, the same on every run (seeded generator). */
export function sampleJson(bytes = 100 * 1024): Uint8Array {
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"];
  const pick = () => words[Math.floor(rand() * words.length)];
  const items: unknown[] = [];
  let size = 2;
  for (let id = 1; size < bytes; id++) {
    const item = {
      id,
      uuid: hex(rand, 32),
      name: `${pick()} ${pick()}`,
      email: `${pick()}.${id}@example.com`,
      active: rand() > 0.3,
      score: Math.round(rand() * 100000) / 100,
      tags: [pick(), pick()],
      created: new Date(1_700_000_000_000 + Math.floor(rand() * 1e10)).toISOString(),
      address: { city: pick(), zip: String(10000 + Math.floor(rand() * 89999)) },
    };
    const text = JSON.stringify(item);
    size += text.length + 1;
    items.push(item);
  }
  const out = new TextEncoder().encode(JSON.stringify(items));
  return out.subarray(0, Math.min(out.length, bytes + 512));
}

function hex(rand: () => number, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += Math.floor(rand() * 16).toString(16);
  return s;
}

/** `body` as a BodyReader of `chunk`-byte pieces, like an upstream body. */
function chunked(body: Uint8Array, chunk: number): BodyReader {
  let off = 0;
  return {
    length: -1,
    read: () => {
      if (off >= body.length) return Promise.resolve(null);
      off += chunk;
      return Promise.resolve(body.subarray(off - chunk, Math.min(off, body.length)));
    },
    cancel() {},
  };
}

async function compressedSize(codec: Codec, level: number, body: Uint8Array, chunk: number) {
  // One encoder at a time, read to its end: the encoder budget always has room.
  const out = encodeBody(chunked(body, chunk), codec, level)!;
  let size = 0;
  for (let c = await out.read(); c !== null; c = await out.read()) size += c.length;
  return size;
}

/** Best of five rounds (other load on a shared machine only ever slows a round down). */
async function measure(codec: Codec, level: number, body: Uint8Array, chunk: number, ms: number) {
  let size = 0;
  let best = 0;
  for (let round = 0; round < 5; round++) {
    let runs = 0;
    const start = performance.now();
    while (performance.now() - start < ms / 5 || runs < 2) {
      size = await compressedSize(codec, level, body, chunk);
      runs++;
    }
    best = Math.max(best, (body.length * runs) / ((performance.now() - start) / 1000) / 1e6);
  }
  return { mbps: best, size, ratio: body.length / size };
}

if (import.meta.main) {
  const args = parseArgs({
    args: Deno.args,
    options: { "time-ms": { type: "string" }, chunk: { type: "string" }, size: { type: "string" } },
  }).values;
  const timeMs = Number(args["time-ms"] ?? 300);
  const chunk = Number(args.chunk ?? 16384);
  const body = sampleJson(Number(args.size ?? 100 * 1024));
  console.log(`body ${body.length} B JSON, ${chunk} B chunks with a flush after each`);
  console.log("codec level     MB/s    bytes  ratio");
  for (const codec of ["gzip", "br", "zstd"] as const) {
    await measure(codec, LEVELS[codec][0], body, chunk, timeMs); // warm up the code paths
    for (const level of LEVELS[codec]) {
      const r = await measure(codec, level, body, chunk, timeMs);
      console.log(
        `${codec.padEnd(5)} ${String(level).padStart(5)} ${r.mbps.toFixed(1).padStart(8)} ` +
          `${String(r.size).padStart(8)} ${r.ratio.toFixed(2).padStart(6)}`,
      );
    }
  }
}
