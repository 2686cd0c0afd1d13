/**
 * RSS growth of a Deno process piping 1 GiB through a `conn.read`/`conn.write` loop
 * (docs/runtime.md, question 3, memory): a fresh 64 KiB buffer per read, against one reused
 * buffer (read into it, write it out in full, then read again), and what V8 flags and malloc
 * settings change. The source is bench/servers/tcp_upstream.ts; this script is both the pipe
 * (`pipe <port> <sourcePort> <variant>`) and the driver that starts everything, reads the 1 GiB
 * and samples the pipe's VmRSS every 20 ms.
 *
 *   deno run -A bench/repro/memory_pipe.ts [--rounds 2] [--variants fresh,reused,...]
 *
 * Variants: `fresh`, `reused`, `fresh-gc` (fresh buffers, `gc()` after every 64 MiB, with
 * --expose-gc), `fresh+semi1` (--v8-flags=--max-semi-space-size=1), `fresh+mmap`
 * (MALLOC_MMAP_THRESHOLD_=65536: glibc serves 64 KiB blocks with mmap and unmaps them on free),
 * `fresh+trim` (MALLOC_TRIM_THRESHOLD_=131072), `fresh+arena1` (MALLOC_ARENA_MAX=1). Growth is
 * measured from the RSS after a 16 MiB warm-up transfer.
 *
 * Result (2026-12-06, two runs of 2 rounds, RSS growth during 1 GiB): fresh 26-60 MiB, reused
 * 5.5-7.8, fresh-gc 21-54, semi1 26-31, mmap 56-78 (7.6-36 two seconds later, 5-10x slower), trim
 * 54-61, arena1 28-66. Details: docs/runtime.md, section 3.
 *
 * @module
 */
import { flags, range, startServer, table } from "./common.ts";

const BUFFER = 64 * 1024;
const TOTAL = 1024 * 1024 * 1024;

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

/** The pipe under test: one client at a time, its first line forwarded to the source. */
async function pipe(port: number, sourcePort: number, variant: string): Promise<void> {
  const expose = (globalThis as { gc?: () => void }).gc;
  for await (const client of Deno.listen({ hostname: "127.0.0.1", port })) {
    const line = new Uint8Array(64);
    const n = await client.read(line);
    if (n === null) {
      client.close(); // a readiness probe
      continue;
    }
    const upstream = await Deno.connect({ hostname: "127.0.0.1", port: sourcePort });
    await writeAll(upstream, line.subarray(0, n));
    const reused = new Uint8Array(BUFFER);
    let sinceGc = 0;
    for (;;) {
      const buf = variant === "reused" ? reused : new Uint8Array(BUFFER);
      const got = await upstream.read(buf);
      if (got === null) break;
      await writeAll(client, buf.subarray(0, got));
      sinceGc += got;
      if (variant === "fresh-gc" && sinceGc >= 64 * 1024 * 1024 && expose) {
        expose();
        sinceGc = 0;
      }
    }
    upstream.close();
    client.close();
  }
}

function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(status.match(/VmRSS:\s+(\d+)/)![1]) / 1024;
}

async function fetchBytes(port: number, bytes: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(conn, new TextEncoder().encode(`${bytes}\n`));
  const buf = new Uint8Array(1024 * 1024);
  let got = 0;
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    got += n;
  }
  conn.close();
  if (got !== bytes) throw new Error(`Cannot read ${bytes} bytes through the pipe: got ${got}`);
}

async function drive(): Promise<void> {
  const opt = flags({
    rounds: "2",
    variants: "fresh,reused,fresh-gc,fresh+semi1,fresh+mmap,fresh+trim,fresh+arena1",
    port: "21061",
  });
  const pipePort = Number(opt.port);
  const sourcePort = pipePort + 1;
  const here = new URL(".", import.meta.url).pathname;
  const source = await startServer(
    [
      "deno",
      "run",
      "--allow-net",
      `${here}/../servers/tcp_upstream.ts`,
      String(sourcePort),
      String(sourcePort + 1),
    ],
    sourcePort,
  );
  const results = new Map<
    string,
    { idle: number[]; warm: number[]; peak: number[]; after: number[]; mbps: number[] }
  >();
  try {
    for (let round = 1; round <= Number(opt.rounds); round++) {
      for (const variant of opt.variants.split(",")) {
        const [mode, extra] = variant.split("+");
        const denoFlags = mode === "fresh-gc"
          ? ["--v8-flags=--expose-gc"]
          : extra === "semi1"
          ? ["--v8-flags=--max-semi-space-size=1"]
          : [];
        const env: Record<string, string> = extra === "mmap"
          ? { MALLOC_MMAP_THRESHOLD_: "65536" }
          : extra === "trim"
          ? { MALLOC_TRIM_THRESHOLD_: "131072" }
          : extra === "arena1"
          ? { MALLOC_ARENA_MAX: "1" }
          : {};
        const server = await startServer(
          [
            "deno",
            "run",
            "--allow-net",
            ...denoFlags,
            new URL(import.meta.url).pathname,
            "pipe",
            String(pipePort),
            String(sourcePort),
            mode,
          ],
          pipePort,
          env,
        );
        try {
          const pid = server.child.pid;
          const idle = rssMiB(pid);
          await fetchBytes(pipePort, 16 * 1024 * 1024);
          await new Promise((r) => setTimeout(r, 500));
          const warm = rssMiB(pid);
          let peak = warm;
          const sampler = setInterval(() => peak = Math.max(peak, rssMiB(pid)), 20);
          const start = performance.now();
          await fetchBytes(pipePort, TOTAL);
          const secs = (performance.now() - start) / 1000;
          clearInterval(sampler);
          peak = Math.max(peak, rssMiB(pid));
          await new Promise((r) => setTimeout(r, 2000));
          const after = rssMiB(pid);
          const r = results.get(variant) ?? { idle: [], warm: [], peak: [], after: [], mbps: [] };
          r.idle.push(idle);
          r.warm.push(warm);
          r.peak.push(peak);
          r.after.push(after);
          r.mbps.push(TOTAL / 2 ** 20 / secs);
          results.set(variant, r);
          console.error(
            `round ${round} ${variant}: warm ${warm.toFixed(1)} peak ${peak.toFixed(1)} after ${
              after.toFixed(1)
            } MiB, ${(TOTAL / 2 ** 20 / secs).toFixed(0)} MiB/s`,
          );
        } finally {
          await server.stop();
        }
      }
    }
  } finally {
    await source.stop();
  }
  const rows: (string | number)[][] = [[
    "variant",
    "RSS idle (MiB)",
    "after warm-up",
    "growth at peak",
    "2 s after",
    "MiB/s",
  ]];
  for (const [variant, r] of results) {
    rows.push([
      variant,
      range(r.idle),
      range(r.warm),
      range(r.peak.map((p, i) => p - r.warm[i])),
      range(r.after.map((p, i) => p - r.warm[i])),
      range(r.mbps, 0),
    ]);
  }
  console.log(table(rows));
}

if (Deno.args[0] === "pipe") {
  await pipe(Number(Deno.args[1]), Number(Deno.args[2]), Deno.args[3]);
} else {
  await drive();
}
