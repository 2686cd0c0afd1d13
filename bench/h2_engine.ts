/**
 * Gatehouse's HTTP/2 engine against Deno.serve (hyper) as a "hello" server: `h2load -c50 -m10`
 * over TLS (ALPN h2) and h2c, in interleaved rounds; req/s and server CPU per request (from
 * /proc/<pid>/stat before and after each run). The server is pinned to CPU 0 and h2load to CPU 1
 * when `taskset` exists. Then the client side: the engine's client against fetch (an HTTP/2-only
 * `Deno.createHttpClient`), 100 requests at a time to the engine's hello server over h2c; client
 * CPU per request is this process's.
 *
 * `deno run -A bench/h2_engine.ts [--rounds N] [--seconds N]`
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { connectH2 } from "../proxy/proto/h2/client.ts";
import { testPki } from "../proxy/testing/certs.ts";

const args = parseArgs({
  args: Deno.args,
  options: { rounds: { type: "string", default: "3" }, seconds: { type: "string", default: "5" } },
});
const ROUNDS = Number(args.values.rounds);
const SECONDS = Number(args.values.seconds);
const HELLO = new URL("./servers/h2_hello.ts", import.meta.url).pathname;
const TARGETS = [
  ["engine", "tls"],
  ["deno-serve", "tls"],
  ["engine", "h2c"],
  ["deno-serve", "h2c"],
] as const;

const hasTaskset = await new Deno.Command("sh", { args: ["-c", "command -v taskset"] }).output()
  .then((o) => o.success);
const ticks = Number(
  new TextDecoder().decode(
    (await new Deno.Command("getconf", { args: ["CLK_TCK"] }).output()).stdout,
  )
    .trim(),
) || 100;

function pinned(cpu: number, cmd: string[]): string[] {
  return hasTaskset ? ["taskset", "-c", String(cpu), ...cmd] : cmd;
}

async function cpuTicks(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

interface Result {
  rps: number;
  usPerRequest: number;
  failed: number;
}

async function measure(impl: string, mode: string, cert: string, key: string): Promise<Result> {
  const [cmd, ...rest] = pinned(0, [Deno.execPath(), "run", "-A", HELLO, impl, mode, cert, key]);
  const server = new Deno.Command(cmd, { args: rest, stdout: "piped", stderr: "inherit" }).spawn();
  const lines = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const port = Number((await lines.read()).value?.trim());
  // The server process is `taskset` exec'ing deno: same pid.
  const pid = server.pid;
  try {
    const url = `${mode === "tls" ? "https" : "http"}://127.0.0.1:${port}/`;
    const load = (seconds: number) =>
      new Deno.Command(pinned(1, ["h2load"])[0], {
        args: [
          ...pinned(1, ["h2load"]).slice(1),
          "-c50",
          "-m10",
          "-t1",
          "-D",
          String(seconds),
          url,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
    await load(1); // warm-up: JIT and connection setup
    const before = await cpuTicks(pid);
    const out = new TextDecoder().decode((await load(SECONDS)).stdout);
    const cpu = (await cpuTicks(pid)) - before;
    const done = Number(/(\d+) succeeded/.exec(out)?.[1] ?? 0);
    const failed = Number(/(\d+) failed/.exec(out)?.[1] ?? -1);
    const rps = Number(/finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(out)?.[1] ?? 0);
    return { rps, usPerRequest: (cpu / ticks) * 1e6 / Math.max(1, done), failed };
  } finally {
    server.kill("SIGKILL");
    await server.status;
    await lines.cancel().catch(() => {});
  }
}

/** Client CPU per request: `impl` sends CLIENT_REQUESTS, 100 at a time, to an engine server. */
const CLIENT_REQUESTS = 100_000;
async function measureClient(impl: "engine" | "fetch"): Promise<Result> {
  const server = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", HELLO, "engine", "h2c"],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const port = Number((await lines.read()).value?.trim());
  try {
    let one: () => Promise<void>;
    let done = () => {};
    if (impl === "engine") {
      const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
      tcp.setNoDelay(true);
      const h2 = connectH2(tcp);
      done = () => h2.close();
      one = async () => {
        const res = await h2.request({ method: "GET", scheme: "http", authority: "b", path: "/" });
        for (let c = await res.body?.read(); c; c = await res.body!.read()) { /* drain */ }
      };
    } else {
      const client = Deno.createHttpClient({ http1: false, http2: true });
      done = () => client.close();
      one = async () =>
        void await (await fetch(`http://127.0.0.1:${port}/`, { client })).arrayBuffer();
    }
    const run = async (n: number) => {
      let started = 0;
      await Promise.all(Array.from({ length: 100 }, async () => {
        while (started++ < n) await one();
      }));
    };
    await run(10_000); // warm-up
    const before = await cpuTicks(Deno.pid);
    const t0 = performance.now();
    await run(CLIENT_REQUESTS);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = (await cpuTicks(Deno.pid)) - before;
    done();
    return {
      rps: CLIENT_REQUESTS / seconds,
      usPerRequest: (cpu / ticks) * 1e6 / CLIENT_REQUESTS,
      failed: 0,
    };
  } finally {
    server.kill("SIGKILL");
    await server.status;
    await lines.cancel().catch(() => {});
  }
}

const dir = await Deno.makeTempDir();
try {
  const pki = await testPki();
  const leaf = await pki.leaf();
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  await Deno.writeTextFile(cert, leaf.certPem);
  await Deno.writeTextFile(key, leaf.keyPem);
  const results = new Map<string, Result[]>();
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [impl, mode] of TARGETS) {
      const r = await measure(impl, mode, cert, key);
      const name = `${impl} ${mode}`;
      results.set(name, [...(results.get(name) ?? []), r]);
      console.log(
        `round ${round} ${name.padEnd(15)} ${r.rps.toFixed(0).padStart(7)} req/s ` +
          `${r.usPerRequest.toFixed(1).padStart(6)} µs CPU/req, ${r.failed} failed`,
      );
    }
  }
  const median = (xs: number[]) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`\nh2load -c50 -m10 -t1 -D ${SECONDS}, ${ROUNDS} rounds (median [min-max]):`);
  console.log("| server | req/s | µs CPU per request | failed |");
  console.log("| --- | --- | --- | --- |");
  for (const [name, rs] of results) {
    const rps = rs.map((r) => r.rps);
    const us = rs.map((r) => r.usPerRequest);
    console.log(
      `| ${name} | ${median(rps).toFixed(0)} [${Math.min(...rps).toFixed(0)}-${
        Math.max(...rps).toFixed(0)
      }] | ${median(us).toFixed(1)} [${Math.min(...us).toFixed(1)}-${
        Math.max(...us).toFixed(1)
      }] | ${rs.reduce((n, r) => n + r.failed, 0)} |`,
    );
  }
  const clients = new Map<string, Result[]>();
  for (let round = 1; round <= ROUNDS; round++) {
    for (const impl of ["engine", "fetch"] as const) {
      const r = await measureClient(impl);
      clients.set(impl, [...(clients.get(impl) ?? []), r]);
      console.log(
        `round ${round} client ${impl.padEnd(8)} ${r.rps.toFixed(0).padStart(7)} req/s ` +
          `${r.usPerRequest.toFixed(1).padStart(6)} µs CPU/req`,
      );
    }
  }
  console.log(`\nclients, ${CLIENT_REQUESTS} GETs 100 at a time over h2c, ${ROUNDS} rounds:`);
  console.log("| client | req/s | µs client CPU per request |");
  console.log("| --- | --- | --- |");
  for (const [name, rs] of clients) {
    const rps = rs.map((r) => r.rps);
    const us = rs.map((r) => r.usPerRequest);
    console.log(
      `| ${name} | ${median(rps).toFixed(0)} [${Math.min(...rps).toFixed(0)}-${
        Math.max(...rps).toFixed(0)
      }] | ${median(us).toFixed(1)} [${Math.min(...us).toFixed(1)}-${
        Math.max(...us).toFixed(1)
      }] |`,
    );
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
