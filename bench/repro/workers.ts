/**
 * Worker isolates as Gatehouse's unit of parallelism (docs/runtime.md, question 3): small
 * experiments, each printing what it saw. The worker side is workers_worker.ts.
 *
 *   deno run -A bench/repro/workers.ts [spread|tls|terminate|atomics|startup|flags]...
 *
 * - spread: 2 and 4 workers `Deno.listen({reusePort: true})` on one port; 2000 connections from
 *   this isolate; how many each worker accepted.
 * - tls: the same with `Deno.listenTls` + the SNI resolver symbol and reusePort, plus real TLS
 *   handshakes with `Deno.connectTls`.
 * - terminate: 2 workers on one port, worker A busy (accepting nothing), 200 connections, then
 *   A is terminated: what happens to the connections queued on A's listener, and to new ones.
 * - atomics: ns per increment of a SharedArrayBuffer counter (Atomics.add) by one worker and by
 *   two at once, a plain local counter, and one postMessage per increment.
 * - startup: time from `new Worker` to its first answer, and RSS per worker, for 8 workers.
 * - flags: whether `--unstable-net` (reusePort) and `--allow-net` reach a worker (child
 *   processes run with --no-config, so deno.json's "unstable" does not apply).
 *
 * Result (2026-12-06): spread 968/1032 over 2 workers, 521/456/516/507 over 4; TLS with the SNI
 * resolver the same, 200 handshakes ok; terminating a busy worker reset its 106-113 queued
 * connections with tcp_migrate_req=0 (moved them to the other worker with 1, after the busy loop
 * ended); Atomics.add 11-19 ns (27-31 contended), postMessage 2.9-7.6 us; 9.2 MiB and 40-343 ms
 * per worker; without --unstable-net the process exits with 70. Details: docs/runtime.md,
 * section 3.
 *
 * @module
 */
import { selfSignedCert } from "./common.ts";

const workerUrl = new URL("./workers_worker.ts", import.meta.url);

interface Reply {
  ok: boolean;
  error?: string;
  [key: string]: unknown;
}

class Remote {
  readonly worker = new Worker(workerUrl, { type: "module" });
  #waiting: ((r: Reply) => void)[] = [];
  posted = 0;
  constructor() {
    this.worker.onmessage = (e: MessageEvent) => {
      if (e.data?.inc) {
        this.posted++;
        return;
      }
      this.#waiting.shift()?.(e.data as Reply);
    };
  }
  call(msg: Record<string, unknown>): Promise<Reply> {
    return new Promise((resolve, reject) => {
      this.#waiting.push((r) => r.ok ? resolve(r) : reject(new Error(r.error)));
      this.worker.postMessage(msg);
    });
  }
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A self-signed certificate's PEM texts (bench/repro/common.ts makes it). */
async function selfSigned(): Promise<{ cert: string; key: string }> {
  const dir = await Deno.makeTempDir();
  const files = await selfSignedCert(dir);
  const pair = {
    cert: await Deno.readTextFile(files.cert),
    key: await Deno.readTextFile(files.key),
  };
  await Deno.remove(dir, { recursive: true });
  return pair;
}

async function connectMany(port: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    c.close();
  }
}

async function settle(workers: Remote[], total: number): Promise<number[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const counts = await Promise.all(
      workers.map(async (w) => (await w.call({ cmd: "count" })).accepted as number),
    );
    if (counts.reduce((a, b) => a + b, 0) >= total || Date.now() > deadline) return counts;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function spread(): Promise<void> {
  for (const n of [2, 4]) {
    const port = freePort();
    const workers = Array.from({ length: n }, () => new Remote());
    for (const w of workers) await w.call({ cmd: "listen", port });
    await connectMany(port, 2000);
    console.log(
      `spread: ${n} workers, 2000 connections -> accepted per worker ${
        (await settle(workers, 2000)).join(", ")
      }`,
    );
    for (const w of workers) w.worker.terminate();
  }
}

async function tls(): Promise<void> {
  const { cert, key } = await selfSigned();
  const port = freePort();
  const workers = [new Remote(), new Remote()];
  for (const w of workers) await w.call({ cmd: "listen", port, tls: true, cert, key });
  let handshakes = 0;
  for (let i = 0; i < 200; i++) {
    const c = await Deno.connectTls({ hostname: "localhost", port, caCerts: [cert] });
    await c.handshake();
    handshakes++;
    c.close();
  }
  await connectMany(port, 1800);
  console.log(
    `tls: 2 workers listenTls+SNI resolver+reusePort on one port; ${handshakes} TLS handshakes ok; accepted per worker ${
      (await settle(workers, 2000)).join(", ")
    }`,
  );
  for (const w of workers) w.worker.terminate();
}

async function terminate(): Promise<void> {
  const sysctl = await Deno.readTextFile("/proc/sys/net/ipv4/tcp_migrate_req").catch(() => "n/a");
  const port = freePort();
  const a = new Remote();
  const b = new Remote();
  await a.call({ cmd: "listen", port });
  await b.call({ cmd: "listen", port });
  await a.call({ cmd: "block", ms: 3000 });
  const conns: Deno.TcpConn[] = [];
  for (let i = 0; i < 200; i++) conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
  await new Promise((r) => setTimeout(r, 300));
  const beforeB = (await b.call({ cmd: "count" })).accepted as number;
  const start = performance.now();
  a.worker.terminate();
  // B closes what it accepts: EOF means B got it; a reset means the kernel dropped it.
  const outcomes = await Promise.all(conns.map(async (c) => {
    const t = setTimeout(() => c.close(), 8000);
    try {
      const n = await c.read(new Uint8Array(16));
      return { how: n === null ? "eof" : "data", ms: performance.now() - start };
    } catch (err) {
      const how = err instanceof Deno.errors.ConnectionReset ? "reset" : "timeout";
      return { how, ms: performance.now() - start };
    } finally {
      clearTimeout(t);
      try {
        c.close();
      } catch {
        // closed
      }
    }
  }));
  const late = outcomes.filter((o) => o.how === "eof" && o.ms > 100).map((o) => o.ms);
  const count = (how: string) => outcomes.filter((o) => o.how === how).length;
  let refused = 0;
  for (let i = 0; i < 200; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    } catch {
      refused++;
    }
  }
  const afterB = (await settle([b], beforeB + 200 + late.length))[0];
  console.log(
    `terminate (net.ipv4.tcp_migrate_req=${sysctl.trim()}): of 200 connections B accepted ${beforeB} ` +
      `while A was busy, the rest waited in A's queue. After A.terminate(): ${
        count("eof")
      } ended by B ` +
      `(${late.length} of them after ${late.length ? Math.min(...late).toFixed(0) : "-"}-` +
      `${late.length ? Math.max(...late).toFixed(0) : "-"} ms: moved from A's queue to B), ` +
      `${count("reset")} reset, ${count("timeout")} unanswered after 8 s; then 200 new ` +
      `connections: ${refused} refused; B accepted ${afterB - beforeB} in all since`,
  );
  b.worker.terminate();
  await terminateIdle();
}

/** An idle worker is terminated; connections made right after: do any land on its listener? */
async function terminateIdle(): Promise<void> {
  const port = freePort();
  const a = new Remote();
  const b = new Remote();
  await a.call({ cmd: "listen", port });
  await b.call({ cmd: "listen", port });
  const start = performance.now();
  a.worker.terminate();
  const outcomes = await Promise.all(Array.from({ length: 200 }, async () => {
    let c: Deno.TcpConn;
    try {
      c = await Deno.connect({ hostname: "127.0.0.1", port });
    } catch {
      return { how: "refused", ms: performance.now() - start };
    }
    const t = setTimeout(() => c.close(), 8000);
    try {
      const n = await c.read(new Uint8Array(16));
      return { how: n === null ? "eof" : "data", ms: performance.now() - start };
    } catch (err) {
      const how = err instanceof Deno.errors.ConnectionReset ? "reset" : "timeout";
      return { how, ms: performance.now() - start };
    } finally {
      clearTimeout(t);
      try {
        c.close();
      } catch {
        // closed
      }
    }
  }));
  const count = (how: string) => outcomes.filter((o) => o.how === how).length;
  const slowest = Math.max(...outcomes.map((o) => o.ms));
  console.log(
    `terminate idle worker: 200 connections made right after A.terminate(): ${count("eof")} ` +
      `ended by B, ${count("reset")} reset, ${count("refused")} refused, ${count("timeout")} ` +
      `unanswered after 8 s; the last settled after ${slowest.toFixed(0)} ms`,
  );
  b.worker.terminate();
}

async function atomics(): Promise<void> {
  const n = 20_000_000;
  const sab = new SharedArrayBuffer(64);
  const counter = new Int32Array(sab);
  const w1 = new Remote();
  const w2 = new Remote();
  const alone = (await w1.call({ cmd: "atomics", sab, n })).nsPerOp as number;
  const [x, y] = await Promise.all([
    w1.call({ cmd: "atomics", sab, n }),
    w2.call({ cmd: "atomics", sab, n }),
  ]);
  const plain = (await w1.call({ cmd: "plain", n })).nsPerOp as number;
  const posts = 200_000;
  const post = (await w1.call({ cmd: "post", n: posts })).nsPerOp as number;
  const deadline = Date.now() + 10_000;
  while (w1.posted < posts && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  console.log(
    `atomics: Atomics.add alone ${alone.toFixed(1)} ns, two workers at once ${
      (x.nsPerOp as number).toFixed(1)
    }/${(y.nsPerOp as number).toFixed(1)} ns ` +
      `(counter ${Atomics.load(counter, 0)} = ${3 * n}), plain counter ${plain.toFixed(2)} ns, ` +
      `postMessage per increment ${post.toFixed(0)} ns to send (${w1.posted} received by main)`,
  );
  w1.worker.terminate();
  w2.worker.terminate();
}

async function startup(): Promise<void> {
  const workers: Remote[] = [];
  const rss0 = Deno.memoryUsage().rss;
  const times: string[] = [];
  for (let i = 0; i < 8; i++) {
    const start = performance.now();
    const w = new Remote();
    await w.call({ cmd: "memory" });
    times.push((performance.now() - start).toFixed(0));
    workers.push(w);
  }
  await new Promise((r) => setTimeout(r, 1000));
  const rss8 = Deno.memoryUsage().rss;
  const heap = (await workers[0].call({ cmd: "memory" })).memory as Deno.MemoryUsage;
  console.log(
    `startup: ms to first answer ${times.join(", ")}; RSS ${(rss0 / 2 ** 20).toFixed(0)} -> ${
      (rss8 / 2 ** 20).toFixed(0)
    } MiB with 8 workers ` +
      `(${((rss8 - rss0) / 8 / 2 ** 20).toFixed(1)} MiB each); one worker's V8 heap ${
        (heap.heapTotal / 2 ** 20).toFixed(1)
      } MiB total, ${(heap.heapUsed / 2 ** 20).toFixed(1)} used`,
  );
  for (const w of workers) w.worker.terminate();
}

async function flags(): Promise<void> {
  const port = freePort();
  const child = async (args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-config",
        ...args,
        new URL(import.meta.url).pathname,
        "flags-child",
        String(port),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return `${text.trim().split("\n").pop()} (process exit code ${out.code})`;
  };
  for (
    const args of [
      ["-A"],
      ["-A", "--unstable-net"],
      ["--unstable-net", "--allow-read", "--allow-env", "--allow-net=127.0.0.1"],
      ["--unstable-net", "--allow-read", "--allow-env", "--allow-net=127.0.0.2"],
    ]
  ) {
    console.log(`flags: main isolate run with ${args.join(" ")}: ${await child(args)}`);
  }
}

/** Run as a child by `flags`: a worker listens with reusePort on 127.0.0.1. */
async function flagsChild(port: number): Promise<void> {
  const w = new Remote();
  const result = await w.call({ cmd: "listen", port }).then(
    () => "ok",
    (e) => (e as Error).message,
  );
  console.log(
    `a worker's Deno.listen({reusePort: true}) on 127.0.0.1: ${
      result.replace(/\s+/g, " ").slice(0, 120)
    }`,
  );
  w.worker.terminate();
}

const experiments: Record<string, () => Promise<void>> = {
  spread,
  tls,
  terminate,
  atomics,
  startup,
  flags,
};
if (Deno.args[0] === "flags-child") {
  await flagsChild(Number(Deno.args[1]));
} else {
  for (const name of Deno.args.length ? Deno.args : Object.keys(experiments)) {
    const run = experiments[name];
    if (!run) {
      throw new Error(
        `Cannot run experiment ${name}: unknown (${Object.keys(experiments).join(", ")})`,
      );
    }
    await run();
  }
}
