import assert from "node:assert/strict";
import { connect, startProxy, type TestProxy, yaml } from "../testing/proxy.ts";
import { httpUpstream, waitFor } from "../testing/servers.ts";
import { type RawH2Client, rawH2Client } from "../testing/h2_frame_peer.ts";
import { type DataFrame, FrameType, type GoawayFrame } from "../proto/h2/frames.ts";
import { bytesOf } from "../testing/wire.ts";
import { reload } from "../testing/tcp_peers.ts";

/** Runs a command to completion; stdout and stderr as text. */
async function run(cmd: string, args: string[]) {
  const out = await new Deno.Command(cmd, { args, stdin: "null" }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/** CN of the certificate the server presents for `serverName` (null: no SNI), or null if none. */
async function servedCn(port: number, serverName: string | null): Promise<string | null> {
  const sni = serverName === null ? ["-noservername"] : ["-servername", serverName];
  const { stdout } = await run("openssl", ["s_client", "-connect", `127.0.0.1:${port}`, ...sni]);
  return /^subject=.*?CN = ([^,\n]+)/m.exec(stdout)?.[1] ?? null;
}

/** The protocol curl used for a GET of `https://<host>:<port>/` and the body it read. */
async function curl(gw: TestProxy, host: string, flag: "--http2" | "--http1.1") {
  const port = gw.port("websecure");
  const { code, stdout, stderr } = await run("curl", [
    "-sS",
    flag,
    "--cacert",
    gw.certs.caCertPath,
    "--resolve",
    `${host}:${port}:127.0.0.1`,
    "-w",
    "\n%{http_version}",
    `https://${host}:${port}/`,
  ]);
  assert.equal(code, 0, stderr);
  const lines = stdout.split("\n");
  return { version: lines.at(-1), body: lines.slice(0, -1).join("\n") };
}

const certificates = "[" + ["a.test", "_wildcard.b.test", "other.test", "localhost"]
  .map((name) => `{ cert: ${name}.crt, key: ${name}.key }`).join(", ") +
  "]";

async function sniProxy(url: string): Promise<TestProxy> {
  return await startProxy(yaml`
    entrypoints:
      websecure:
        address: "127.0.0.1:0"
        tls:
          certificates: ${certificates}
          default_certificate: other.test
      strict:
        address: "127.0.0.1:0"
        tls:
          certificates: ${certificates}
          default_certificate: reject
      h1only:
        address: "127.0.0.1:0"
        tls:
          certificates: ${certificates}
          alpn: [http/1.1]
    routes: [{ service: app }]
    services: { app: { servers: ["${url}"] } }
  `);
}

Deno.test("ALPN negotiates h2 or http/1.1 as the client offers, h2 first", async () => {
  await using up = httpUpstream();
  await using gw = await sniProxy(up.url);
  const alpn = async (entrypoint: string, offer: string[]) => {
    using c = await connect(gw.port(entrypoint), { tls: "localhost", alpn: offer });
    return (await (c.conn as Deno.TlsConn).handshake()).alpnProtocol;
  };
  assert.equal(await alpn("websecure", ["h2"]), "h2");
  assert.equal(await alpn("websecure", ["http/1.1"]), "http/1.1");
  assert.equal(await alpn("websecure", ["h2", "http/1.1"]), "h2");
  assert.equal(await alpn("websecure", ["http/1.1", "h2"]), "h2");
  assert.equal(await alpn("h1only", ["h2", "http/1.1"]), "http/1.1");
});

Deno.test("curl gets the same answer over h2 and http/1.1, and the upstream sees which", async () => {
  await using up = httpUpstream();
  await using gw = await sniProxy(up.url);
  assert.deepEqual(await curl(gw, "a.test", "--http2"), { version: "2", body: "ok" });
  assert.deepEqual(await curl(gw, "a.test", "--http1.1"), { version: "1.1", body: "ok" });
  assert.deepEqual(up.requests.map((r) => r.headers.get("via")), ["2 gatehouse", "1.1 gatehouse"]);
});

Deno.test("SNI picks the exact or wildcard certificate; curl verifies it by name", async () => {
  await using up = httpUpstream();
  await using gw = await sniProxy(up.url);
  const port = gw.port("websecure");
  assert.equal(await servedCn(port, "a.test"), "a.test");
  assert.equal(await servedCn(port, "A.TEST"), "a.test");
  assert.equal(await servedCn(port, "x.b.test"), "*.b.test");
  assert.equal(await servedCn(port, "localhost"), "localhost");
  // *.b.test covers one label only: deeper names get the default.
  assert.equal(await servedCn(port, "deep.x.b.test"), "other.test");
  for (const host of ["a.test", "x.b.test", "y.b.test"]) {
    assert.equal((await curl(gw, host, "--http2")).body, "ok", host);
  }
  // Deno's client verifies the name too: only the wildcard certificate covers x.b.test.
  using c = await connect(port, { tls: "x.b.test" });
  assert.ok(c.conn);
});

Deno.test("a named default certificate answers unknown SNI and no SNI", async () => {
  await using up = httpUpstream();
  await using gw = await sniProxy(up.url);
  const port = gw.port("websecure");
  assert.equal(await servedCn(port, "unknown.test"), "other.test");
  assert.equal(await servedCn(port, null), "other.test");
  // Without SNI (an IP address sends none) the default other.test does not cover 127.0.0.1.
  await assert.rejects(connect(port, { tls: "127.0.0.1" }), /not valid for name|NotValidForName/);
});

Deno.test("default_certificate: reject fails the handshake for unknown SNI and no SNI", async () => {
  await using up = httpUpstream();
  await using gw = await sniProxy(up.url);
  const port = gw.port("strict");
  assert.equal(await servedCn(port, "a.test"), "a.test");
  assert.equal(await servedCn(port, "unknown.test"), null);
  assert.equal(await servedCn(port, null), null);
  // localhost's certificate covers 127.0.0.1, so only the missing SNI can fail this handshake.
  await assert.rejects(connect(port, { tls: "127.0.0.1" }));
  using ok = await connect(port, { tls: "localhost" });
  assert.ok(ok.conn);
  assert.equal(up.requests.length, 0);
});

/** Reads `conn` until the peer closes it; false when it is still open after `ms`. */
async function closedWithin(conn: Deno.Conn, ms: number): Promise<boolean> {
  const buf = new Uint8Array(4096);
  const eof = (async () => {
    try {
      while (await conn.read(buf) !== null) { /* frames the server sends */ }
    } catch {
      // reset by the peer: closed too
    }
    return true;
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), ms));
  const closed = await Promise.race([eof, late]);
  clearTimeout(timer);
  return closed;
}

Deno.test("an idle HTTP/2 connection is closed after timeouts.keep_alive_idle", async () => {
  await using up = httpUpstream();
  await using gw = await startProxy(yaml`
    entrypoints:
      websecure:
        address: "127.0.0.1:0"
        tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
    routes: [{ service: app }]
    services: { app: { servers: ["${up.url}"] } }
    timeouts: { keep_alive_idle: 300ms }
  `);
  using c = await connect(gw.port(), { tls: "localhost", alpn: ["h2"] });
  // The client preface and an empty SETTINGS frame: a live h2 connection with no stream.
  await c.send("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  await c.send(new Uint8Array([0, 0, 0, 4, 0, 0, 0, 0, 0]));
  assert.ok(await closedWithin(c.conn, 5000), "the idle h2 connection is still open after 5 s");
  await waitFor(() => gw.runtime.clients.size === 0, "the connection to leave the registry");
});

/** A proxy with one h2c-only entrypoint in front of `upstream`, keep_alive_idle 300 ms. */
function h2cProxy(upstream: string): Promise<TestProxy> {
  return startProxy(yaml`
    entrypoints: { web: { address: "127.0.0.1:0", h2c: only } }
    routes: [{ service: app }]
    services: { app: { servers: ["${upstream}"] } }
    timeouts: { keep_alive_idle: 300ms }
  `);
}

Deno.test("answered HTTP/2 streams whose client never ends them do not hold the connection open", async () => {
  await using up = httpUpstream(async (req) => new Response(`got ${(await req.bytes()).length}`));
  await using gw = await h2cProxy(up.url);
  await using peer = await rawH2Client(gw.port());
  // All of its content-length, but no END_STREAM: the request is complete and answered, and
  // the stream stays open only because the client never ends its side.
  const fields: [string, string][] = [
    [":method", "POST"],
    [":scheme", "http"],
    [":authority", "a.test"],
    [":path", "/"],
    ["content-length", "5"],
  ];
  for (let i = 0; i < 3; i++) {
    const streamId = peer.nextStreamId();
    await peer.send(
      {
        type: FrameType.HEADERS,
        streamId,
        endStream: false,
        endHeaders: true,
        block: peer.block(fields),
      },
      { type: FrameType.DATA, streamId, endStream: false, data: bytesOf("hello"), flowLength: 5 },
    );
  }
  await waitFor(() => peer.fields.size === 3, "the three answers");
  assert.deepEqual(
    [...peer.fields.values()].map((blocks) => blocks[0].find(([n]) => n === ":status")?.[1]),
    ["200", "200", "200"],
  );
  const goaway = await peer.waitFor((f) => f.type === FrameType.GOAWAY, 5000);
  assert.equal((goaway as GoawayFrame).code, 0);
  await waitFor(() => peer.closed, "the connection to close");
  await waitFor(() => gw.runtime.clients.size === 0, "the connection to leave the registry");
});

Deno.test("an HTTP/2 client that opens no window for its response is closed at keep_alive_idle; a slow one is not", async () => {
  const body = "x".repeat(8192);
  await using up = httpUpstream(() => new Response(body));
  await using gw = await h2cProxy(up.url);
  const dataOn = (peer: RawH2Client, id: number) =>
    peer.received.reduce(
      (n, f) =>
        n + (f.type === FrameType.DATA && "streamId" in f && f.streamId === id
          ? (f as DataFrame).data.length
          : 0),
      0,
    );
  // SETTINGS_INITIAL_WINDOW_SIZE 1024: the response stops after 1 KiB until the client opens more.
  await using stalled = await rawH2Client(gw.port(), [[4, 1024]]);
  const first = await stalled.request("GET", "/");
  await waitFor(() => dataOn(stalled, first) === 1024, "the first KiB");
  const goaway = await stalled.waitFor((f) => f.type === FrameType.GOAWAY, 5000);
  assert.equal((goaway as GoawayFrame).code, 0);
  await waitFor(() => stalled.closed, "the stalled connection to close");
  // The same response to a client that opens 1 KiB every 100 ms: 700 ms, longer than
  // keep_alive_idle, and each window it opens is progress.
  await using slow = await rawH2Client(gw.port(), [[4, 1024]]);
  const second = await slow.request("GET", "/");
  for (let kib = 1; kib < body.length / 1024; kib++) {
    await waitFor(() => dataOn(slow, second) === kib * 1024, `KiB ${kib}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await slow.send(
      { type: FrameType.WINDOW_UPDATE, streamId: second, increment: 1024 },
      { type: FrameType.WINDOW_UPDATE, streamId: 0, increment: 1024 },
    );
    assert.ok(!slow.closed, `closed after ${dataOn(slow, second)} bytes`);
  }
  await waitFor(() => dataOn(slow, second) === body.length, "the whole body");
});

Deno.test("an HTTP/2 client stalled by flow control is cut at the drain deadline when its entrypoint is removed", async () => {
  await using up = httpUpstream(() => new Response("x".repeat(256 * 1024)));
  // keep_alive_idle is long, so only the drain can end the stalled connection.
  const entrypoints = (withH2c: boolean) =>
    yaml`
    entrypoints:
      stay: { address: "127.0.0.1:0" }
      ${withH2c ? `web: { address: "127.0.0.1:0", h2c: only }` : ""}
    routes: [{ service: app }]
    services: { app: { servers: ["${up.url}"] } }
    timeouts: { keep_alive_idle: 60s, drain: 500ms }
  `;
  await using gw = await startProxy(entrypoints(true));
  // SETTINGS_INITIAL_WINDOW_SIZE 1024 and no WINDOW_UPDATE ever: the response stops after 1 KiB.
  await using stalled = await rawH2Client(gw.port("web"), [[4, 1024]]);
  const id = await stalled.request("GET", "/");
  await stalled.waitFor((f) => f.type === FrameType.DATA && "streamId" in f && f.streamId === id);
  const removed = Date.now();
  await reload(gw, entrypoints(false));
  const goaway = await stalled.waitFor((f) => f.type === FrameType.GOAWAY, 2000);
  assert.equal((goaway as GoawayFrame).code, 0);
  await waitFor(() => stalled.closed, "the stalled connection to close", 5000);
  const ms = Date.now() - removed;
  // The drain (500 ms), then at most the 1 s grace of a cut connection.
  assert.ok(ms >= 400 && ms < 3000, `closed ${ms} ms after the entrypoint was removed`);
  await waitFor(() => gw.runtime.clients.size === 0, "the connection to leave the registry");
});
