/**
 * Entrypoints on unix sockets, with curl --unix-socket as the client: HTTP routed by host, HTTPS
 * (h2 and http/1.1) through the relay to the internal TLS listener, TCP streams (plain and
 * TLS-terminated), the socket file's mode, a stale file replaced and a live one refused, a
 * reload that changes the listener on the same path, and the file removed at shutdown.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadConfigText } from "../config/load.ts";
import { Runtime } from "../app/runtime.ts";
import { startProxy, yaml } from "../testing/proxy.ts";
import { httpUpstream, waitFor } from "../testing/servers.ts";
import { readToEnd, reload, tcpUpstream, text, writeAll } from "../testing/tcp_peers.ts";
import { prepareSockets } from "./listener.ts";

interface Curled {
  readonly code: number;
  readonly status: number;
  readonly body: string;
  readonly version: string;
  readonly stderr: string;
}

/** curl --unix-socket `socket` `url`; `args` go before the URL. */
async function curlUnix(socket: string, url: string, ...args: string[]): Promise<Curled> {
  const out = await new Deno.Command("curl", {
    args: [
      "-sS",
      "--max-time",
      "10",
      "--unix-socket",
      socket,
      "-w",
      "\n%{http_code} %{http_version}",
      ...args,
      url,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const cut = stdout.lastIndexOf("\n");
  const [status, version] = stdout.slice(cut + 1).split(" ");
  return {
    code: out.code,
    status: Number(status),
    body: stdout.slice(0, cut),
    version,
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("curl --unix-socket against an HTTP entrypoint on a unix socket: routed by host", async () => {
  await using app = httpUpstream((req, seen) =>
    Response.json({
      host: seen.headers.get("host"),
      xff: req.headers.get("x-forwarded-for"),
      path: seen.target,
    })
  );
  await using other = httpUpstream(() => new Response("other"));
  await using gw = await startProxy(yaml`
    entrypoints:
      local: { address: "unix:local.sock", socket_file: { mode: "0660" } }
    routes:
      - { match: { host: app.test }, service: app }
      - { service: other }
    services:
      app: { servers: ["${app.url}"] }
      other: { servers: ["${other.url}"] }
  `);
  const socket = join(gw.dir, "local.sock");
  const info = await Deno.lstat(socket);
  assert.ok(info.isSocket);
  assert.equal(info.mode! & 0o777, 0o660);
  const res = await curlUnix(socket, "http://app.test/hello", "-H", "X-Forwarded-For: 6.6.6.6");
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.status, 200);
  assert.deepEqual(JSON.parse(res.body), { host: "app.test", xff: null, path: "/hello" });
  const fallback = await curlUnix(socket, "http://elsewhere.test/");
  assert.equal(fallback.body, "other");
  const [first] = gw.outcomes;
  assert.equal(
    first.clientIp,
    `unix:${socket}`,
    "the log shows the socket where an address would be",
  );
  assert.equal(first.route, "app.test/");
});

Deno.test("HTTPS on a unix socket: h2 and http/1.1 through the relay, certificates by SNI", async () => {
  await using app = httpUpstream((_req, seen) => Response.json({ host: seen.headers.get("host") }));
  await using gw = await startProxy(yaml`
    entrypoints:
      secure:
        address: unix:secure.sock
        tls: { certificates: [{ cert: localhost.crt, key: localhost.key }, { cert: a.test.crt, key: a.test.key }] }
    routes: [{ service: app }]
    services: { app: { servers: ["${app.url}"] } }
    forwarding: { trusted_proxies: [unix] }
  `);
  const socket = join(gw.dir, "secure.sock");
  const ca = gw.certs.caCertPath;
  for (const [flag, version] of [["--http2", "2"], ["--http1.1", "1.1"]]) {
    const res = await curlUnix(socket, "https://a.test/x", "--cacert", ca, flag);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual([res.status, res.version], [200, version]);
    assert.deepEqual(JSON.parse(res.body), { host: "a.test" });
  }
  assert.deepEqual(
    gw.outcomes.map((o) => [o.protocol, o.clientIp]),
    [["HTTP/2", `unix:${socket}`], ["HTTP/1.1", `unix:${socket}`]],
  );
});

Deno.test("TCP entrypoints on unix sockets: plain, and with TLS terminated", async () => {
  await using up = tcpUpstream();
  await using gw = await startProxy(yaml`
    entrypoints:
      raw: { address: "unix:raw.sock", protocol: tcp }
      tls:
        address: unix:tls.sock
        protocol: tcp
        tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
    tcp_routes:
      - { entrypoints: [raw], service: up }
      - { entrypoints: [tls], service: up }
    services: { up: { servers: ["${up.url}"] } }
  `);
  const raw = await Deno.connect({ transport: "unix", path: join(gw.dir, "raw.sock") });
  await writeAll(raw, "through a socket");
  await raw.closeWrite();
  assert.equal(text(await readToEnd(raw)), "through a socket");
  raw.close();
  // A TLS client over AF_UNIX (openssl s_client -quiet never ends its side): echo, then close_notify.
  const client = [
    "import socket, ssl, sys",
    "ctx = ssl.create_default_context(cafile=sys.argv[2])",
    "raw = socket.socket(socket.AF_UNIX)",
    "raw.connect(sys.argv[1])",
    "tls = ctx.wrap_socket(raw, server_hostname='localhost')",
    "tls.sendall(b'over TLS\\n')",
    "got = b''",
    "while not got.endswith(b'\\n'): got += tls.recv(100)",
    "sys.stdout.write(got.decode())",
    "tls.unwrap().close()",
  ].join("\n");
  const out = await new Deno.Command("python3", {
    args: ["-c", client, join(gw.dir, "tls.sock"), gw.certs.caCertPath],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(new TextDecoder().decode(out.stdout), "over TLS\n");
  await waitFor(() => gw.tcpRecords.length === 2, "both TCP records");
  assert.deepEqual(
    gw.tcpRecords.map((r) => [r.entrypoint, r.clientIp, r.tls, r.outcome]).sort(),
    [
      ["raw", `unix:${join(gw.dir, "raw.sock")}`, "none", "closed"],
      ["tls", `unix:${join(gw.dir, "tls.sock")}`, "terminated", "closed"],
    ],
  );
});

Deno.test("a stale socket file is replaced; a live socket or another file is a readable error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gh-unix-" });
  const path = join(dir, "web.sock");
  const load = async () => {
    const text = `entrypoints: { web: { address: "unix:${path}" } }\n`;
    const loaded = await loadConfigText(text, join(dir, "gatehouse.yaml"));
    if (!loaded.ok) throw new Error("the config should load");
    return loaded.config;
  };
  try {
    // A socket file nobody listens on, as a crashed process leaves it.
    const made = await new Deno.Command("python3", {
      args: ["-c", `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(path)})`],
    }).output();
    assert.equal(made.code, 0);
    assert.ok((await Deno.lstat(path)).isSocket);
    const config = await load();
    await prepareSockets(config);
    const first = Runtime.start(config);
    const res = await curlUnix(path, "http://x.test/");
    assert.equal(res.status, 404, res.stderr);
    // Another process listening on it (here: this one's first runtime) is live: refused.
    await prepareSockets(config);
    assert.throws(
      () => Runtime.start(config),
      new RegExp(
        `^Error: Cannot listen on unix:${path} for entrypoint "web": another process is ` +
          `listening on it \\(a live socket\\): stop it, or choose another path$`,
      ),
    );
    await first.shutdown();
    await waitFor(async () => !(await exists(path)), "the socket file to be removed at shutdown");
    await Deno.writeTextFile(path, "not a socket");
    await prepareSockets(config);
    assert.throws(
      () => Runtime.start(config),
      /: the path exists and is not a socket: remove it or choose another path$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("a reload on the same socket path: mode changed in place, TLS added without a gap", async () => {
  await using app = httpUpstream(() => new Response("app"));
  const head = yaml`
    routes: [{ service: app }]
    services: { app: { servers: ["${app.url}"] } }
  `;
  await using gw = await startProxy(
    yaml`
    entrypoints: { local: { address: "unix:local.sock", socket_file: { mode: "0600" } } }
  ` + head,
  );
  const socket = join(gw.dir, "local.sock");
  const keepAlive = await Deno.connect({ transport: "unix", path: socket });
  await writeAll(keepAlive, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  await reload(
    gw,
    yaml`
    entrypoints: { local: { address: "unix:local.sock", socket_file: { mode: "0666" } } }
  ` + head,
  );
  assert.equal((await Deno.lstat(socket)).mode! & 0o777, 0o666);
  await reload(
    gw,
    yaml`
    entrypoints:
      local:
        address: "unix:local.sock"
        tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
  ` + head,
  );
  await new Promise((r) => setTimeout(r, 50)); // past the turn the old listener let go in
  assert.ok((await Deno.lstat(socket)).isSocket, "the socket file stays");
  const res = await curlUnix(socket, "https://localhost/", "--cacert", gw.certs.caCertPath);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.body, "app");
  // The connection accepted before the reloads is still served.
  const reply = new Uint8Array(1024);
  const n = await keepAlive.read(reply);
  assert.match(new TextDecoder().decode(reply.subarray(0, n ?? 0)), /^HTTP\/1\.1 200 OK/);
  keepAlive.close();
});
