/**
 * Driver for the paced-TLS experiments (docs/runtime.md, question 2): unsaturated, paced
 * requests over one TLS keep-alive connection against tls_paced_server.ts's variants and nginx
 * (static files, HTTP/2 and HTTP/1.1 on one TLS port) in the same run, with
 * `h2load [--h1] -c1 -m1 --rps 50` (one request every 20 ms, each after the previous answer;
 * h2load sets TCP_NODELAY on its side, as curl and browsers do). Prints the median and p99 per
 * target, protocol and path, as ranges over the rounds.
 *
 *   deno run -A bench/repro/tls_paced.ts [--rounds 2] [--targets nginx,h1-split,h1-one,...]
 *
 * Targets `gatehouse` and `gatehouse-noffi` run Gatehouse itself (proxy/main.ts, with the
 * permissions of `deno task start`, the second without --allow-ffi, so without TCP_NODELAY on
 * its TLS listener) in front of tls_paced_server.ts's `upstream` on the next port.
 *
 * Needs nginx, h2load and openssl on PATH.
 *
 * Result (2026-12-06, 2 rounds, median ms): nginx 0.42-0.52 for small over h1 and h2; h1-split
 * small 43.98, h1-split+nodelay 0.60-0.72, h1-one 0.38-0.63, node-split 0.59-0.82; serve-stream
 * small 44.0 (h1 and h2), serve-stream+nodelay 2.9-3.2 (its own macrotask). Details:
 * docs/runtime.md, section 2. With the fix (2026-12-06, 1 round, load average ~7, `--targets
 * nginx,h1-split,h1-split+nodelay,gatehouse,gatehouse-noffi`): gatehouse small 3.7 (h1) and 4.2
 * (h2), its upstream's own macrotask included, against gatehouse-noffi 44.2 and 47.9; nginx 0.3-0.4.
 *
 * @module
 */
import { flags, range, selfSignedCert, startServer, table } from "./common.ts";

const opt = flags({
  rounds: "2",
  targets:
    "nginx,h1-split,h1-split+nodelay,h1-one,node-split,serve,serve+nodelay,serve-stream,serve-stream+nodelay,gatehouse,gatehouse-noffi",
  port: "21041",
  count: "100",
  rps: "50",
});
const port = Number(opt.port);
const here = new URL(".", import.meta.url).pathname;
const dir = await Deno.makeTempDir({ prefix: "tls-paced-" });

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`Cannot run ${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

const { cert, key } = await selfSignedCert(dir);
await Deno.mkdir(`${dir}/www`);
await Deno.writeFile(`${dir}/www/small`, new Uint8Array(100).fill(0x61));
await Deno.writeFile(`${dir}/www/1m`, new Uint8Array(1024 * 1024).fill(0x62));
await Deno.writeTextFile(
  `${dir}/nginx.conf`,
  `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx.error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 100000;
  client_body_temp_path ${dir}/tmp-body;
  proxy_temp_path ${dir}/tmp-proxy;
  fastcgi_temp_path ${dir}/tmp-fastcgi;
  uwsgi_temp_path ${dir}/tmp-uwsgi;
  scgi_temp_path ${dir}/tmp-scgi;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port} ssl http2;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    root ${dir}/www;
  }
}
`,
);

interface Latency {
  p50: number;
  p99: number;
}

/** Paced requests with h2load over one TLS connection; HTTP/1.1 with `--h1`. */
async function paced(path: string, h1: boolean): Promise<Latency> {
  const log = `${dir}/h2load.log`;
  await Deno.remove(log).catch(() => {});
  const n = path === "/1m" ? Math.ceil(Number(opt.count) / 2) : Number(opt.count);
  await run("h2load", [
    ...(h1 ? ["--h1"] : []),
    "-c1",
    "-m1",
    `--rps=${opt.rps}`,
    `-n${n + 5}`,
    `--log-file=${log}`,
    `https://127.0.0.1:${port}${path}`,
  ]);
  const lines = (await Deno.readTextFile(log)).trim().split("\n");
  const durations = lines.map((line) => Number(line.split("\t")[2]) / 1000).slice(5)
    .sort((a, b) => a - b);
  if (durations.length !== n) throw new Error(`Cannot use h2load's log: ${lines.length} lines`);
  return {
    p50: durations[Math.floor(durations.length / 2)],
    p99: durations[Math.min(durations.length - 1, Math.floor(durations.length * 0.99))],
  };
}

const results = new Map<string, { p50: number[]; p99: number[] }>();
function record(key: string, l: Latency): void {
  const r = results.get(key) ?? { p50: [], p99: [] };
  r.p50.push(l.p50);
  r.p99.push(l.p99);
  results.set(key, r);
  console.error(`${key}: p50 ${l.p50.toFixed(2)} p99 ${l.p99.toFixed(2)} ms`);
}

const server = (mode: string, at: number) =>
  startServer(
    ["deno", "run", "-A", `${here}/tls_paced_server.ts`, String(at), mode, cert, key],
    at,
    {},
    "ready",
  );

await Deno.writeTextFile(
  `${dir}/gatehouse.yaml`,
  `entrypoints:
  websecure:
    address: "127.0.0.1:${port}"
    tls: { certificates: [{ cert: ${cert}, key: ${key} }] }
routes: [{ service: app }]
services: { app: { servers: ["http://127.0.0.1:${port + 1}"] } }
admin: { address: "off" }
log: { access_log: { enabled: false } }
`,
);

/** Gatehouse with `deno task start`'s permissions, without --allow-ffi for `gatehouse-noffi`. */
async function gatehouse(target: string) {
  const upstream = await server("upstream", port + 1);
  const task = JSON.parse(await Deno.readTextFile(`${here}/../../deno.json`)).tasks.start.command;
  const permissions = (task as string).split(" ").filter((a) =>
    a.startsWith("--allow-") && !a.startsWith("--allow-write") &&
    (target === "gatehouse" || !a.startsWith("--allow-ffi"))
  );
  const main = `${here}/../../proxy/main.ts`;
  try {
    const gw = await startServer(
      ["deno", "run", ...permissions, main, "--config", `${dir}/gatehouse.yaml`],
      port,
      { GATEHOUSE_LOG_FORMAT: "text" },
      "serving",
    );
    return {
      async stop() {
        await gw.stop();
        await upstream.stop();
      },
    };
  } catch (err) {
    await upstream.stop();
    throw err;
  }
}

for (let round = 1; round <= Number(opt.rounds); round++) {
  for (const target of opt.targets.split(",")) {
    const running = target === "nginx"
      ? await startServer(["nginx", "-c", `${dir}/nginx.conf`], port)
      : target.startsWith("gatehouse")
      ? await gatehouse(target)
      : await server(target, port);
    try {
      const h2 = target === "nginx" || target.startsWith("serve") ||
        target.startsWith("gatehouse");
      for (const path of ["/small", "/1m"]) {
        record(`${target} h1 ${path}`, await paced(path, true));
        if (h2) record(`${target} h2 ${path}`, await paced(path, false));
      }
    } finally {
      await running.stop();
    }
  }
}

const rows: (string | number)[][] = [["target / protocol / path", "median ms", "p99 ms"]];
for (const [key, r] of results) rows.push([key, range(r.p50, 2), range(r.p99, 2)]);
console.log(table(rows));
await Deno.remove(dir, { recursive: true });
