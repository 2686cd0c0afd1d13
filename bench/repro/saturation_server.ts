/**
 * An HTTP/1.1 "hello" server for the saturation-stall experiments (docs/runtime.md, question 1).
 * It answers every request with a fixed 69-byte response and, every 2 s, prints to stderr how
 * fairly it served its connections: the time between two requests of one connection ("gap").
 * A fair server serves every busy connection once per round, so the gaps cluster around
 * connections / throughput and p99/mean stays near 1-2; a server that serves some connections
 * over and over while others wait shows p50 far below the mean and p99/mean of 5-10.
 *
 *   deno run -A bench/repro/saturation_server.ts <port> <mode>
 *
 * Modes: `raw` (Deno.listen, one `conn.read` then one `conn.write` per request, the shape of
 * Gatehouse's HTTP/1.1 engine), `raw-late` and `raw-early` (see `serveRaw`), `serve` (Deno.serve, hyper), `node` (node:net), `workers:N`
 * (N Deno Workers each running `raw` on the port with reusePort; each prints its own lines;
 * with the environment variable WORKER_MAX_IO_EVENTS=N the main isolate sets
 * DENO_TOKIO_MAX_IO_EVENTS_PER_TICK=N for its workers only).
 * The driver is saturation.ts; see it for results.
 *
 * @module
 */
/** A worker gets the main isolate's arguments as its name. */
const workerName = (globalThis as { name?: string }).name;
const inWorker = typeof workerName === "string" && workerName !== "";
const args = inWorker ? workerName.split(" ") : Deno.args;
const port = Number(args[0] ?? 21001);
const mode = args[1] ?? "raw";
const RESPONSE = new TextEncoder().encode(
  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
);

const last = new Map<number, number>();
let gaps: number[] = [];
let windowStart = performance.now();

/** Records one request of connection `id` (a counter, or the client's port for Deno.serve). */
function served(id: number): void {
  const now = performance.now();
  const before = last.get(id);
  if (before !== undefined) gaps.push(now - before);
  last.set(id, now);
  if (now - windowStart >= 2000) report(now);
}

function report(now: number): void {
  const secs = (now - windowStart) / 1000;
  windowStart = now;
  const sorted = gaps.sort((a, b) => a - b);
  gaps = [];
  if (sorted.length < 100) return;
  const q = (p: number) => sorted[Math.floor((sorted.length - 1) * p)];
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  console.error(
    `req/s ${(sorted.length / secs).toFixed(0)} gap ms: mean ${mean.toFixed(1)} ` +
      `p50 ${q(0.5).toFixed(1)} p99 ${q(0.99).toFixed(1)} max ${q(1).toFixed(1)} ` +
      `(p99/mean ${(q(0.99) / mean).toFixed(1)})`,
  );
}

/** Counts complete request heads in a chunk (wrk sends one GET per round trip). */
function heads(buf: Uint8Array, n: number): number {
  let count = 0;
  for (let i = 3; i < n; i++) {
    if (
      buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 &&
      buf[i - 3] === 13
    ) count++;
  }
  return count;
}

let nextId = 0;

const macrotask = () => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * `raw`: read, answer, read again. `raw-late`: wait a macrotask before each read, so the next
 * request is more often already in the socket when the read is submitted (a read only when
 * needed). `raw-early`: submit the next read before writing the answer (two ops in flight).
 */
async function serveRaw(conn: Deno.Conn, variant: string): Promise<void> {
  const id = nextId++;
  const bufs = [new Uint8Array(16 * 1024), new Uint8Array(16 * 1024)];
  let turn = 0;
  try {
    let pending = conn.read(bufs[turn]);
    for (;;) {
      const n = await pending;
      if (n === null) break;
      const buf = bufs[turn];
      turn ^= 1;
      if (variant === "raw-early") pending = conn.read(bufs[turn]);
      for (let k = heads(buf, n); k > 0; k--) {
        served(id);
        await conn.write(RESPONSE);
      }
      if (variant === "raw-late") await macrotask();
      if (variant !== "raw-early") pending = conn.read(bufs[turn]);
    }
  } catch {
    // the client reset the connection at the end of the run
  }
  last.delete(id);
  try {
    conn.close();
  } catch {
    // already closed
  }
}

if (mode === "serve") {
  Deno.serve({ port, hostname: "127.0.0.1", onListen() {} }, (_req, info) => {
    served(info.remoteAddr.port);
    return new Response("hello");
  });
} else if (mode === "node") {
  const net = await import("node:net");
  net.createServer((socket) => {
    const id = nextId++;
    socket.on("data", (chunk: Uint8Array) => {
      for (let k = heads(chunk, chunk.length); k > 0; k--) {
        served(id);
        socket.write(RESPONSE);
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => last.delete(id));
  }).listen(port, "127.0.0.1");
} else if (mode.startsWith("workers:") && !inWorker) {
  // Deno reads DENO_TOKIO_MAX_IO_EVENTS_PER_TICK when it builds a worker's runtime, so the main
  // isolate can set it for its workers alone.
  const workerEvents = Deno.env.get("WORKER_MAX_IO_EVENTS");
  if (workerEvents) {
    Deno.env.set("DENO_TOKIO_MAX_IO_EVENTS_PER_TICK", workerEvents);
  }
  for (let i = 0; i < Number(mode.slice("workers:".length)); i++) {
    new Worker(import.meta.url, { type: "module", name: `${port} ${mode}` });
  }
} else {
  const reusePort = mode.startsWith("workers:");
  for await (
    const conn of Deno.listen({ port, hostname: "127.0.0.1", reusePort })
  ) serveRaw(conn, mode);
}
