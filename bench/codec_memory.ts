/**
 * Memory one response encoder or decoder holds while its client reads nothing: the measurements
 * behind proxy/http/compress/codec_memory.ts, which `compression.max_memory` charges each
 * response whose coding Gatehouse changes.
 *
 *   deno run -A --v8-flags=--expose-gc bench/codec_memory.ts [--codec zstd] [--levels 1,19]
 *     [--decoders-only]
 *
 * Each case runs in a process of its own and starts codecs in batches the way the compression
 * stage does (encodeBody, decodeBody). An encoder is fed more JSON than its window (2 MiB to gzip
 * and brotli, 9 MiB to zstd, whose levels 17-19 have 8 MiB); a decoder the whole of 20 MiB of
 * JSON encoded with the largest window its coding allows in HTTP (brotli 16 MiB, zstd 8 MiB), as
 * an upstream might send it. That is what a client that stopped reading lets through: the socket
 * buffers take the output of a whole large response. The codecs stay open; the process's RSS
 * growth per codec past the first two batches is printed in KiB.
 *
 * @module
 */
import zlib from "node:zlib";
import { parseArgs } from "node:util";
import {
  type Codec,
  type Decodable,
  decodeBody,
  encodeBody,
  setCodecMemory,
} from "../proxy/http/compress/codecs.ts";
import type { BodyReader } from "../proxy/proto/message.ts";
import { sampleJson } from "./codec_levels.ts";

const MIB = 1024 * 1024;
/** Input per encoder: past the largest window (zstd 17-19: 8 MiB; gzip 32 KiB, brotli 512 KiB). */
const FEED: Record<Codec, number> = { gzip: 2 * MIB, br: 2 * MIB, zstd: 9 * MIB };
const DECODED = 20 * MIB;
const CHUNK = 16 * 1024;
const LEVELS: Record<Codec, number[]> = {
  gzip: [1, 2, 3, 4, 5, 6, 7, 8, 9],
  br: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
  zstd: Array.from({ length: 19 }, (_, i) => i + 1),
};
const DECODABLE: readonly Decodable[] = ["gzip", "deflate", "br", "zstd"];
const C = zlib.constants;

/**
 * `body` in CHUNK-byte views (no copies: the source adds nothing to the process's memory); it
 * never ends, so the codec never finishes and frees its state.
 */
class Source implements BodyReader {
  readonly length = -1;
  given = 0;
  constructor(readonly body: Uint8Array) {}
  read(): Promise<Uint8Array | null> {
    if (this.given >= this.body.length) return new Promise(() => {});
    this.given += CHUNK;
    return Promise.resolve(this.body.subarray(this.given - CHUNK, this.given));
  }
  cancel() {}
}

/** `plain` as an upstream would send it encoded with `coding`, at its largest window. */
function encoded(coding: Decodable, plain: Uint8Array): Uint8Array {
  switch (coding) {
    case "gzip":
      return zlib.gzipSync(plain);
    case "deflate":
      return zlib.deflateSync(plain);
    case "br":
      return zlib.brotliCompressSync(plain, {
        params: { [C.BROTLI_PARAM_QUALITY]: 5, [C.BROTLI_PARAM_LGWIN]: 24 },
      });
    case "zstd":
      return zlib.zstdCompressSync(plain, {
        params: { [C.ZSTD_c_compressionLevel]: 3, [C.ZSTD_c_windowLog]: 23 },
      });
  }
}

function settle(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");
  for (let i = 0; i < 3; i++) gc();
  return Deno.memoryUsage().rss;
}

/**
 * One process: the RSS growth in bytes of `count` more open codecs once `count` are open,
 * averaged over two batches after two (the first batches leave the allocator holding the memory
 * their output churned through; later ones reuse it, so what grows is the codecs' own state).
 * `open` makes one codec over a source; `input` is what it is fed.
 */
async function one(
  input: Uint8Array,
  open: (source: BodyReader) => BodyReader,
  count: number,
): Promise<number> {
  setCodecMemory(Number.MAX_SAFE_INTEGER);
  const held: BodyReader[] = [];
  const batch = async () => {
    for (let i = 0; i < count; i++) {
      const source = new Source(input);
      const out = open(source);
      // Pull output until the codec has taken all of it, then stop reading: a stalled client.
      while (source.given < input.length) await out.read();
      held.push(out);
    }
    return settle();
  };
  await batch();
  const warm = await batch();
  await batch();
  const grown = await batch() - warm;
  if (held.length !== 4 * count) throw new Error("a codec went missing");
  return grown / 2;
}

async function child(kind: string, name: string, level: number, count: number): Promise<number> {
  if (kind === "encode") {
    const codec = name as Codec;
    const input = sampleJson(FEED[codec]);
    return await one(input, (source) => encodeBody(source, codec, level)!, count);
  }
  const coding = name as Decodable;
  const input = encoded(coding, sampleJson(DECODED));
  return await one(input, (source) => decodeBody(source, coding)!, count);
}

async function run(kind: string, name: string, level: number, count: number): Promise<number> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      import.meta.filename!,
      "--one",
      `${kind}:${name}:${level}:${count}`,
    ],
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`the ${kind} ${name} ${level} run failed`);
  return Number(new TextDecoder().decode(out.stdout).trim());
}

if (import.meta.main) {
  const args = parseArgs({
    args: Deno.args,
    options: {
      one: { type: "string" },
      codec: { type: "string" },
      levels: { type: "string" },
      "decoders-only": { type: "boolean" },
    },
  }).values;
  if (args.one !== undefined) {
    const [kind, name, level, count] = args.one.split(":");
    console.log(String(await child(kind, name, Number(level), Number(count))));
  } else {
    const line = (what: string, level: string, count: number, bytes: number) =>
      console.log(
        `${what.padEnd(16)} ${level.padStart(5)} ${String(count).padStart(6)} ` +
          String(Math.round(bytes / count / 1024)).padStart(16),
      );
    console.log("codec            level  count    KiB per codec");
    if (!args["decoders-only"]) {
      const codecs = (args.codec?.split(",") ?? ["gzip", "br", "zstd"]) as Codec[];
      for (const codec of codecs) {
        const levels = args.levels?.split(",").map(Number) ?? LEVELS[codec];
        for (const level of levels) {
          const count = codec === "zstd" && level >= 13 ? 4 : 8;
          line(`${codec} encoder`, String(level), count, await run("encode", codec, level, count));
        }
      }
    }
    for (const coding of DECODABLE) {
      line(`${coding} decoder`, "-", 8, await run("decode", coding, 0, 8));
    }
  }
}
