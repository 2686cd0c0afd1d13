/**
 * Raw TCP load through a layer-4 proxy (or straight to bench/servers/tcp_upstream.ts).
 *
 * - `--mode throughput --port P --bytes N --warmup-bytes W`: one connection asks the source
 *   upstream for N bytes and reads them to EOF (after a W-byte warm-up transfer); prints MB/s.
 * - `--mode connections --port P --concurrency C --seconds S --warmup W`: C loops each connect,
 *   send 4 bytes, read the 4-byte echo and close; prints connections/s.
 *
 * @module
 */
import { closeQuietly, emit, measurePhases, options, writeAll } from "./common.ts";

const opt = options({
  mode: undefined,
  port: undefined,
  bytes: "1073741824",
  "warmup-bytes": "67108864",
  concurrency: "50",
  seconds: "5",
  warmup: "1",
});
const port = Number(opt.port);
const PING = new TextEncoder().encode("ping");

async function transfer(bytes: number): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const start = performance.now();
  try {
    await writeAll(conn, new TextEncoder().encode(`${bytes}\n`));
    const buf = new Uint8Array(1024 * 1024);
    let got = 0;
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      got += n;
    }
    if (got !== bytes) throw new Error(`Cannot measure throughput: got ${got} of ${bytes} bytes`);
    return (performance.now() - start) / 1000;
  } finally {
    closeQuietly(conn);
  }
}

async function connectPing(): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(conn, PING);
    const buf = new Uint8Array(16);
    let got = 0;
    while (got < PING.length) {
      const n = await conn.read(buf.subarray(got));
      if (n === null) throw new Error(`Connection closed after ${got} of 4 echoed bytes`);
      got += n;
    }
  } finally {
    closeQuietly(conn);
  }
}

if (opt.mode === "throughput") {
  if (Number(opt["warmup-bytes"]) > 0) await transfer(Number(opt["warmup-bytes"]));
  const bytes = Number(opt.bytes);
  const seconds = await transfer(bytes);
  emit({ bytes, seconds, mb_per_s: bytes / 1e6 / seconds, errors: 0 });
} else if (opt.mode === "connections") {
  await measurePhases(
    Number(opt.concurrency),
    Number(opt.warmup),
    Number(opt.seconds),
    connectPing,
  );
} else {
  throw new Error(`Cannot run: --mode must be "throughput" or "connections", not "${opt.mode}"`);
}
