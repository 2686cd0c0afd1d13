/**
 * Memory one response encoder holds while its client reads nothing, per codec and level: the
 * measurements behind `encoderBytes` (proxy/http/compress/encoder_bytes.ts), which the encoder budget
 * (`compression.max_memory`) charges each compressed response.
 *
 *   deno run -A --v8-flags=--expose-gc bench/encoder_memory.ts [--codec zstd] [--levels 1,19]
 *
 * Each codec and level runs in a process of its own: it starts encoders in batches the way the
 * compression stage does (encodeBody) and feeds each more JSON than its window (2 MiB to gzip
 * and brotli, 9 MiB to zstd, whose levels 17-19 have 8 MiB), as a client that stopped reading
 * would let it: the socket buffers take the compressed output of a whole large response. The encoders stay open; the process's RSS
 * growth per encoder past the first two batches is printed in KiB.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type Codec, encodeBody, setEncoderMemory } from "../proxy/http/compress/codecs.ts";
import type { BodyReader } from "../proxy/proto/message.ts";
import { sampleJson } from "./codec_levels.ts";

const MIB = 1024 * 1024;
/** Input per encoder: past the largest window (zstd 17-19: 8 MiB; gzip 32 KiB, brotli 512 KiB). */
const FEED: Record<Codec, number> = { gzip: 2 * MIB, br: 2 * MIB, zstd: 9 * MIB };
const CHUNK = 16 * 1024;
const LEVELS: Record<Codec, number[]> = {
  gzip: [1, 2, 3, 4, 5, 6, 7, 8, 9],
  br: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
  zstd: Array.from({ length: 19 }, (_, i) => i + 1),
};

/**
 * `body` in CHUNK-byte views (no copies: the source adds nothing to the process's memory); it
 * never ends, so the encoder never finishes and frees its state.
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

function settle(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");
  for (let i = 0; i < 3; i++) gc();
  return Deno.memoryUsage().rss;
}

/**
 * One process: the RSS growth in bytes of `count` more open encoders once `count` are open,
 * averaged over two batches after two (the first batches leave the allocator holding the memory
 * their output churned through; later ones reuse it, so what grows is the encoders' own state).
 */
async function one(codec: Codec, level: number, count: number): Promise<number> {
  setEncoderMemory(Number.MAX_SAFE_INTEGER);
  const feed = FEED[codec];
  const body = sampleJson(feed);
  const open: BodyReader[] = [];
  const start = async () => {
    for (let i = 0; i < count; i++) {
      const source = new Source(body);
      const out = encodeBody(source, codec, level)!;
      // Pull output until the encoder has taken all of it, then stop reading: a stalled client.
      while (source.given < feed) await out.read();
      open.push(out);
    }
    return settle();
  };
  await start();
  const warm = await start();
  await start();
  const grown = await start() - warm;
  if (open.length !== 4 * count) throw new Error("an encoder went missing");
  return grown / 2;
}

if (import.meta.main) {
  const args = parseArgs({
    args: Deno.args,
    options: {
      one: { type: "string" },
      level: { type: "string" },
      count: { type: "string" },
      codec: { type: "string" },
      levels: { type: "string" },
    },
  }).values;
  if (args.one !== undefined) {
    const grown = await one(args.one as Codec, Number(args.level), Number(args.count));
    console.log(String(grown));
  } else {
    const run = async (codec: string, level: number, count: number) => {
      const child = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--v8-flags=--expose-gc",
          import.meta.filename!,
          "--one",
          codec,
          "--level",
          String(level),
          "--count",
          String(count),
        ],
        stderr: "inherit",
      }).output();
      if (!child.success) throw new Error(`the ${codec} ${level} run failed`);
      return Number(new TextDecoder().decode(child.stdout).trim());
    };
    const codecs = (args.codec?.split(",") ?? ["gzip", "br", "zstd"]) as Codec[];
    console.log(
      `JSON fed to each encoder (gzip, br ${FEED.br / MIB} MiB, zstd ${FEED.zstd / MIB} MiB), ` +
        "its client reading nothing",
    );
    console.log("codec level  count  KiB per encoder");
    for (const codec of codecs) {
      const levels = args.levels?.split(",").map(Number) ?? LEVELS[codec];
      for (const level of levels) {
        const count = codec === "zstd" && level >= 13 ? 4 : 8;
        const each = Math.round(await run(codec, level, count) / count / 1024);
        console.log(
          `${codec.padEnd(5)} ${String(level).padStart(5)} ${String(count).padStart(6)} ` +
            String(each).padStart(16),
        );
      }
    }
  }
}
