/**
 * Memory: the proxy's resident memory idle, then holding N idle keep-alive TLS connections
 * (each has done one request), and the difference per connection; `memory` over HTTP/1.1,
 * `memory-h2` over HTTP/2 (what browsers keep open).
 *
 * @module
 */
import { RESULT_MARK } from "../clients/common.ts";
import { benchJson } from "../lib/parse.ts";
import { rssKiB } from "../lib/procs.ts";
import { type Target, targetPids } from "../lib/targets.ts";
import { denoClient, type Measurement, type Scenario, type ScenarioContext } from "./types.ts";

/** Time for the proxy to settle (finish handshakes, free buffers) before RSS is read. */
const SETTLE_MS = 1500;

type Alpn = "http/1.1" | "h2";

async function measureMemory(
  ctx: ScenarioContext,
  target: Target,
  alpn: Alpn,
): Promise<Measurement> {
  if (!target.restart) throw new Error("Cannot measure memory: the target has no process");
  // A fresh process: allocators keep freed memory, so a process that held connections before
  // would show almost no growth.
  await target.restart();
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const half = Math.floor(ctx.timing.idleConnections / 2);
  const idle = await rssKiB(await targetPids(target));
  // Two batches: the first also pays one-time costs (a JIT compiling the request path, a heap
  // growing to its working size); the second shows what one more idle connection costs.
  const first = await openIdle(ctx, target, half, alpn);
  try {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const mid = await rssKiB(await targetPids(target));
    const second = await openIdle(ctx, target, half, alpn);
    try {
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      const loaded = await rssKiB(await targetPids(target));
      const open = first.open + second.open;
      const errors = first.errors + second.errors;
      return {
        values: {
          idle_mib: idle / 1024,
          loaded_mib: loaded / 1024,
          kib_per_conn: (loaded - mid) / second.open,
          kib_per_conn_total: (loaded - idle) / open,
        },
        errors,
        operations: open,
        command: `${first.command} (twice)`,
        note: errors > 0
          ? `${errors} failed, first: ${first.firstError ?? second.firstError}`
          : undefined,
      };
    } finally {
      await second.close();
    }
  } finally {
    await first.close();
  }
}

interface IdleBatch {
  readonly open: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly command: string;
  close(): Promise<void>;
}

/** Opens `count` idle TLS connections held by a client process until `close`. */
async function openIdle(
  ctx: ScenarioContext,
  target: Target,
  count: number,
  alpn: Alpn,
): Promise<IdleBatch> {
  const argv = denoClient("idle_tls.ts", {
    port: target.endpoints.https!,
    ca: ctx.layout.files.ca,
    count,
    concurrency: 50,
    alpn,
  });
  const child = ctx.sup.start(argv, ctx.layout.pinning.load, "piped");
  const stdin = child.stdin.getWriter();
  const close = async () => {
    await stdin.close().catch(() => {});
    await child.status;
    await child.stderr.cancel().catch(() => {});
  };
  try {
    const line = await firstResultLine(child.stdout);
    const opened = benchJson<{ open: number; errors: number; first_error?: string }>(
      line,
      "idle_tls.ts",
    );
    if (opened.open === 0) throw new Error(`No connection opened: ${opened.first_error}`);
    return {
      open: opened.open,
      errors: opened.errors,
      firstError: opened.first_error,
      command: argv.join(" "),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Reads stdout up to the first result line, then keeps draining it in the background. */
async function firstResultLine(stdout: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`idle_tls.ts ended before its result: "${text.trim()}"`);
    text += value;
    const line = text.split("\n").find((l) => l.startsWith(RESULT_MARK));
    if (line && text.includes("\n", text.indexOf(RESULT_MARK))) {
      (async () => {
        while (!(await reader.read()).done) {
          // Discard the rest.
        }
      })();
      return line;
    }
  }
}

/** The memory scenario over `alpn`. */
function memoryScenario(id: string, alpn: Alpn, what: string): Scenario {
  return {
    id,
    title: `Memory: after start, and with idle keep-alive TLS connections (${what})`,
    method: "The proxy is restarted (same config and ports) before each measurement; VmRSS of " +
      "its processes (sum over nginx master and worker) 1.5 s after the start, and 1.5 s after " +
      `bench/clients/idle_tls.ts opened N/2 TLS connections (ALPN ${alpn}, each after one GET), ` +
      "and again after N/2 more; KiB per connection = growth over the second N/2 divided by N/2 " +
      "(the first batch also pays one-time costs: code compiled, heaps grown); the total " +
      "column is (loaded - after start) / N",
    needs: "https",
    targets: ["gatehouse", "nginx", "haproxy", "caddy"],
    metrics: [
      { key: "kib_per_conn", label: "KiB/conn", better: "lower", digits: 1 },
      { key: "kib_per_conn_total", label: "KiB/conn incl. warm-up", better: "lower", digits: 1 },
      { key: "idle_mib", label: "RSS after start MiB", better: "lower", digits: 1 },
      { key: "loaded_mib", label: "RSS loaded MiB", better: "lower", digits: 1 },
    ],
    run: (ctx, target) => measureMemory(ctx, target, alpn),
  };
}

/** The memory scenarios: idle HTTP/1.1 and idle HTTP/2 connections. */
export const MEMORY_SCENARIOS: Scenario[] = [
  memoryScenario("memory", "http/1.1", "HTTP/1.1"),
  memoryScenario("memory-h2", "h2", "HTTP/2"),
];
