/**
 * Servers on unix sockets, end to end with peers written by others: HTTP services on gunicorn
 * (`unix://`), byte streams to socat (`unix+tcp://`), health checks over the socket, and the
 * load-time permission check (a subprocess with Deno's permissions narrowed).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startProxy, yaml } from "../testing/proxy.ts";
import { waitFor } from "../testing/servers.ts";
import { readToEnd, text, writeAll } from "../testing/tcp_peers.ts";
import { gunicornApp, socatEcho } from "../testing/unix_peers.ts";

/** curl's answer for `host` on 127.0.0.1:`port`, parsed (the apps answer JSON). */
async function curlJson(port: number, host: string): Promise<Record<string, string | null>> {
  const out = await new Deno.Command("curl", {
    args: ["-sS", "--max-time", "10", "-H", `Host: ${host}`, `http://127.0.0.1:${port}/who`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const body = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(body);
}

Deno.test("HTTP services on unix sockets (gunicorn): routed by host, the client's Host kept", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gh-unix-" });
  try {
    await using a = await gunicornApp(dir, "a");
    await using b = await gunicornApp(dir, "b");
    await using gw = await startProxy(yaml`
      entrypoints: { web: { address: "127.0.0.1:0" } }
      routes:
        - { match: { host: a.test }, service: a }
        - { match: { host: b.test }, service: b }
      services:
        a: { servers: ["unix://${a.path}"] }
        b: { servers: ["unix://${b.path}"], host: upstream }
    `);
    const seenA = await curlJson(gw.port(), "a.test");
    assert.equal(seenA.app, "a");
    assert.equal(seenA.host, "a.test");
    assert.equal(seenA.path, "/who");
    assert.equal(seenA.forwardedFor, "127.0.0.1");
    const seenB = await curlJson(gw.port(), "b.test");
    assert.equal(seenB.app, "b");
    assert.equal(seenB.host, "localhost", `"host: upstream" sends "localhost" to a socket`);
    const [ra, rb] = gw.outcomes;
    assert.deepEqual([ra.status, ra.upstream], [200, `unix://${a.path}`]);
    assert.deepEqual([rb.status, rb.upstream], [200, `unix://${b.path}`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("health checks reach a unix-socket server: down when its process stops, up when back", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gh-unix-" });
  try {
    let app = await gunicornApp(dir, "app");
    await using gw = await startProxy(yaml`
      entrypoints: { web: { address: "127.0.0.1:0" } }
      routes: [{ service: app }]
      services:
        app:
          servers: ["unix://${app.path}"]
          health_check:
            { path: /healthz, interval: 100ms, timeout: 50ms, healthy_threshold: 1, unhealthy_threshold: 1 }
    `);
    const up = () => [...gw.runtime.servers()][0].up;
    await waitFor(up, "the server to be up");
    await app.close();
    await waitFor(() => !up(), "the stopped server to be marked down");
    const res = await fetch(gw.url("/"));
    assert.equal(res.status, 503);
    await res.body?.cancel();
    app = await gunicornApp(dir, "app");
    await waitFor(up, "the restarted server to be up");
    assert.equal((await curlJson(gw.port(), "x.test")).app, "app");
    await app.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("TCP routes to a unix+tcp:// server (socat): bytes both ways and half-close", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gh-unix-" });
  try {
    await using echo = await socatEcho(join(dir, "echo.sock"));
    await using gw = await startProxy(yaml`
      entrypoints: { db: { address: "127.0.0.1:0", protocol: tcp } }
      tcp_routes: [{ entrypoints: [db], service: echo }]
      services:
        echo:
          servers: ["unix+tcp://${echo.path}"]
          health_check: { interval: 100ms, timeout: 50ms }
    `);
    const payload = "x".repeat(100_000);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: gw.port() });
    await writeAll(conn, payload);
    await conn.closeWrite();
    assert.equal(text(await readToEnd(conn)), payload);
    conn.close();
    await waitFor(() => gw.tcpRecords.length === 1, "the TCP access record");
    const [record] = gw.tcpRecords;
    assert.deepEqual(
      [record.outcome, record.upstream, record.bytesUp, record.bytesDown],
      ["closed", `unix+tcp://${echo.path}`, 100_000, 100_000],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a unix socket server the process may not use is refused at load, with the flag to add", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gh-unix-" });
  try {
    const file = join(dir, "gatehouse.yaml");
    await Deno.writeTextFile(
      file,
      yaml`
      entrypoints: { web: { address: "127.0.0.1:0" } }
      routes: [{ service: app }]
      services:
        app:
          servers: ["unix://${dir}/app.sock"]
    `,
    );
    const main = new URL("../main.ts", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-env", main, "--check", "--config", file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1);
    assert.match(
      stderr,
      new RegExp(
        `gatehouse\\.yaml:5:15 services\\.app\\.servers\\[0\\]: Cannot connect to unix socket ` +
          `"${dir}/app\\.sock": Deno needs read and write permission for a socket path; run with ` +
          `--allow-write=${dir}/app\\.sock`,
      ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
