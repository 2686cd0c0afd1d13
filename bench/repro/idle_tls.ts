/**
 * Resident memory per idle connection (docs/runtime.md, question 3): a client process opens
 * 2000 connections (TLS handshake done, nothing sent) and holds them; the server's RSS before
 * and after, divided by 2000, for several ways to serve them in Deno and for nginx, plus the
 * server's V8 heap and external memory (what JavaScript holds) for the Deno modes.
 *
 *   deno run -A bench/repro/idle_tls.ts [--conns 2000] [--rounds 2] [--modes ...]
 *
 * Modes: `tcp-read` (Deno.listen, one pending 1 KiB `read` per connection), `tls-read`
 * (Deno.listenTls, handshake, one pending 1 KiB read: Gatehouse's HTTP/1.1 engine waiting for a
 * request), `tls-hold` (handshake, no read pending), `tls-hyper` (handshake, then
 * serveHttpOnConnection: hyper waiting for a request), `nginx` (TLS, http2 on). Add `+semi4`
 * for --v8-flags=--max-semi-space-size=4.
 *
 * Result (2026-12-06, 2 rounds, KiB of server RSS per idle connection): tcp-read 9.6-10.0,
 * tls-read 18.8-19.1, tls-hold 21.2-21.3, tls-hyper 33.5-33.8, tls-read+semi4 18.6-18.8, nginx
 * 15.5-15.6; none returned within 3 s of closing. Details: docs/runtime.md, section 3.
 *
 * @module
 */
import { flags, range, selfSignedCert, startProcess, startServer, table } from "./common.ts";

async function server(port: number, mode: string, cert: string, key: string): Promise<void> {
  const held: Deno.Conn[] = [];
  setInterval(() => {
    const m = Deno.memoryUsage();
    console.error(
      `memory heapUsed ${m.heapUsed} heapTotal ${m.heapTotal} external ${m.external} conns ${held.length}`,
    );
  }, 500);
  const internal = (Deno as unknown as Record<symbol, Record<string, CallableFunction>>)[
    (Deno as unknown as { internal: symbol }).internal
  ];
  const listener = mode === "tcp-read"
    ? Deno.listen({ hostname: "127.0.0.1", port })
    : Deno.listenTls({ hostname: "127.0.0.1", port, cert, key, alpnProtocols: ["http/1.1"] });
  for await (const conn of listener) {
    held.push(conn);
    (async () => {
      if (mode !== "tcp-read") await (conn as Deno.TlsConn).handshake();
      if (mode === "tls-hyper") {
        const served = internal.serveHttpOnConnection(
          conn,
          new AbortController().signal,
          () => new Response("hi"),
          () => new Response("error"),
          () => {},
        ) as { finished: Promise<void> };
        await served.finished; // rejects when the client leaves before a request
        return;
      }
      if (mode === "tls-hold") return;
      const buf = new Uint8Array(1024);
      while ((await conn.read(buf)) !== null) {
        // idle clients send nothing
      }
    })().catch(() => {});
  }
}

async function client(port: number, n: number, tls: boolean, ca: string): Promise<void> {
  const conns: Deno.Conn[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: 50 }, async () => {
    while (next < n) {
      next++;
      if (tls) {
        const c = await Deno.connectTls({
          hostname: "localhost",
          port,
          caCerts: [ca],
          alpnProtocols: ["http/1.1"],
        });
        await c.handshake();
        conns.push(c);
      } else {
        conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      }
    }
  }));
  console.error(`ready ${conns.length}`);
  setInterval(() => {}, 60_000); // hold the connections until the driver stops this process
}

function rssTreeMiB(pid: number): number {
  let kib = 0;
  const visit = (p: number) => {
    kib += Number(Deno.readTextFileSync(`/proc/${p}/status`).match(/VmRSS:\s+(\d+)/)![1]);
    for (const task of Deno.readDirSync(`/proc/${p}/task`)) {
      const children = Deno.readTextFileSync(`/proc/${p}/task/${task.name}/children`).trim();
      for (const child of children ? children.split(" ") : []) visit(Number(child));
    }
  };
  visit(pid);
  return kib / 1024;
}

function lastMemory(stderr: string): { heap: number; external: number } | undefined {
  const all = [...stderr.matchAll(/heapUsed (\d+) heapTotal (\d+) external (\d+)/g)];
  const m = all.at(-1);
  return m ? { heap: Number(m[2]), external: Number(m[3]) } : undefined;
}

async function drive(): Promise<void> {
  const opt = flags({
    conns: "2000",
    rounds: "2",
    modes: "tcp-read,tls-read,tls-hold,tls-hyper,tls-read+semi4,nginx",
    port: "21071",
  });
  const port = Number(opt.port);
  const n = Number(opt.conns);
  const self = new URL(import.meta.url).pathname;
  const dir = await Deno.makeTempDir({ prefix: "idle-tls-" });
  const { cert, key } = await selfSignedCert(dir);
  await Deno.writeTextFile(
    `${dir}/nginx.conf`,
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx.error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 10000; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp-body;
  proxy_temp_path ${dir}/tmp-proxy;
  fastcgi_temp_path ${dir}/tmp-fastcgi;
  uwsgi_temp_path ${dir}/tmp-uwsgi;
  scgi_temp_path ${dir}/tmp-scgi;
  keepalive_timeout 300s;
  client_header_timeout 300s;
  server {
    listen 127.0.0.1:${port} ssl http2;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    return 200 "hi";
  }
}
`,
  );
  const results = new Map<
    string,
    { kib: number[]; heap: number[]; external: number[]; back: number[] }
  >();
  for (let round = 1; round <= Number(opt.rounds); round++) {
    for (const variant of opt.modes.split(",")) {
      const [mode, extra] = variant.split("+");
      const argv = mode === "nginx" ? ["nginx", "-c", `${dir}/nginx.conf`] : [
        "deno",
        "run",
        "-A",
        ...(extra === "semi4" ? ["--v8-flags=--max-semi-space-size=4"] : []),
        self,
        "server",
        String(port),
        mode,
        cert,
        key,
      ];
      const s = await startServer(argv, port);
      try {
        await new Promise((r) => setTimeout(r, 1500));
        const before = rssTreeMiB(s.child.pid);
        const memBefore = lastMemory(s.stderr());
        const c = startProcess([
          "deno",
          "run",
          "-A",
          self,
          "client",
          String(port),
          String(n),
          mode === "tcp-read" ? "tcp" : "tls",
          cert,
        ]);
        const deadline = Date.now() + 120_000;
        while (!c.stderr().includes("ready")) {
          if (Date.now() > deadline) throw new Error(`Cannot open ${n} connections: ${c.stderr()}`);
          await new Promise((r) => setTimeout(r, 100));
        }
        await new Promise((r) => setTimeout(r, 3000));
        const after = rssTreeMiB(s.child.pid);
        const memAfter = lastMemory(s.stderr());
        await c.stop();
        await new Promise((r) => setTimeout(r, 3000));
        const back = rssTreeMiB(s.child.pid);
        const r = results.get(variant) ?? { kib: [], heap: [], external: [], back: [] };
        r.kib.push((after - before) * 1024 / n);
        r.back.push((back - before) * 1024 / n);
        if (memBefore && memAfter) {
          r.heap.push((memAfter.heap - memBefore.heap) / 1024 / n);
          r.external.push((memAfter.external - memBefore.external) / 1024 / n);
        }
        results.set(variant, r);
        console.error(
          `round ${round} ${variant}: RSS ${before.toFixed(1)} -> ${
            after.toFixed(1)
          } MiB with ${n} idle connections, ${back.toFixed(1)} MiB 3 s after they closed`,
        );
      } finally {
        await s.stop();
      }
    }
  }
  const rows: (string | number)[][] = [[
    "server",
    "KiB RSS per idle conn",
    "of it V8 heap (KiB)",
    "V8 external (KiB)",
    "KiB/conn still held 3 s after close",
  ]];
  for (const [variant, r] of results) {
    rows.push([
      variant,
      range(r.kib),
      r.heap.length ? range(r.heap) : "-",
      r.external.length ? range(r.external, 2) : "-",
      range(r.back),
    ]);
  }
  console.log(table(rows));
  await Deno.remove(dir, { recursive: true });
}

if (Deno.args[0] === "server") {
  await server(
    Number(Deno.args[1]),
    Deno.args[2],
    Deno.readTextFileSync(Deno.args[3]),
    Deno.readTextFileSync(Deno.args[4]),
  );
} else if (Deno.args[0] === "client") {
  await client(
    Number(Deno.args[1]),
    Number(Deno.args[2]),
    Deno.args[3] === "tls",
    Deno.args[4] ? Deno.readTextFileSync(Deno.args[4]) : "",
  );
} else {
  await drive();
}
