/**
 * Routing TLS by server name: passthrough to upstreams that hold their own certificates,
 * HTTPS and passthrough on one port, TLS terminated per name, and the ClientHello limits.
 */
import assert from "node:assert/strict";
import { startProxy, yaml } from "../testing/proxy.ts";
import { httpUpstream, waitFor } from "../testing/servers.ts";
import { servedOrClosed } from "../testing/wire.ts";
import {
  readBytes,
  readToEnd,
  tcpUpstream,
  text,
  tlsClient,
  tlsUpstream,
  within,
  writeAll,
} from "../testing/tcp_peers.ts";

const QUIET = `log: { access_log: { enabled: false } }\nadmin: { address: "off" }\n`;

/**
 * HTTPS and passthrough on one port: entrypoint "websecure" terminates TLS for `app` and passes
 * SNI a.test through to `passthrough`; `more` adds top-level YAML.
 */
function httpsWithPassthrough(app: string, passthrough: string, more = "") {
  return startProxy(
    yaml`
    entrypoints:
      websecure:
        address: "127.0.0.1:0"
        tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
    routes: [{ service: app }]
    tcp_routes:
      - { entrypoints: [websecure], sni: a.test, passthrough: true, service: tcpapp }
    services:
      app: { servers: ["${app}"] }
      tcpapp: { servers: ["${passthrough}"] }
  ` + more + QUIET,
  );
}

/** Runs a command; its exit code and output. */
async function run(cmd: string, args: string[]) {
  const out = await new Deno.Command(cmd, { args, stdin: "null" }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

Deno.test("SNI passthrough reaches two upstreams whose own certificates the client verifies", async () => {
  await using a = await tlsUpstream("a.test");
  await using b = await tlsUpstream("x.b.test");
  await using gw = await startProxy(
    yaml`
    entrypoints:
      edge: { address: "127.0.0.1:0", protocol: tcp }
    tcp_routes:
      - { name: a, entrypoints: [edge], sni: a.test, passthrough: true, service: a }
      - { name: b, entrypoints: [edge], sni: "*.b.test", passthrough: true, service: b }
    services:
      a: { servers: ["${a.url}"] }
      b: { servers: ["${b.url}"] }
  ` + QUIET,
  );
  const port = gw.port("edge");
  for (
    const [name, greeting] of [["a.test", "hello from a.test\n"], [
      "x.b.test",
      "hello from x.b.test\n",
    ]]
  ) {
    const conn = await tlsClient(port, name);
    assert.equal(text(await readBytes(conn, greeting.length)), greeting);
    await writeAll(conn, "echo me");
    await conn.closeWrite();
    assert.equal(text(await readToEnd(conn)), "echo me");
    conn.close();
  }
  await assert.rejects(() => tlsClient(port, "c.test"));
  await waitFor(() => gw.tcpRecords.length === 3, "three records");
  const byRoute = (route: string | null) => gw.tcpRecords.find((r) => r.route === route)!;
  assert.deepEqual(
    [byRoute("a").sni, byRoute("a").tls, byRoute("a").outcome],
    ["a.test", "passthrough", "closed"],
  );
  assert.equal(byRoute("b").sni, "x.b.test");
  assert.deepEqual([byRoute(null).outcome, byRoute(null).sni], ["no_route", "c.test"]);
  assert.equal(a.accepted + b.accepted, 2);
});

Deno.test("HTTPS and passthrough on one port; HTTPS sees the real client address", async () => {
  await using passthrough = await tlsUpstream("a.test");
  await using app = httpUpstream((req) =>
    new Response(
      `xff=${req.headers.get("x-forwarded-for")} proto=${req.headers.get("x-forwarded-proto")}`,
    )
  );
  await using gw = await httpsWithPassthrough(app.url, passthrough.url);
  const port = gw.port("websecure");
  const conn = await tlsClient(port, "a.test");
  assert.equal(text(await readBytes(conn, 18)), "hello from a.test\n");
  conn.close();
  // From 127.0.0.2 (loopback, but not the relay's address): X-Forwarded-For must say so.
  for (const version of ["--http1.1", "--http2"]) {
    const ca = `${gw.dir}/ca.crt`;
    const { code, stdout, stderr } = await run("curl", [
      "-sS",
      version,
      "--interface",
      "127.0.0.2",
      "--cacert",
      ca,
      "--resolve",
      `localhost:${port}:127.0.0.1`,
      "-w",
      " %{http_version}",
      `https://localhost:${port}/`,
    ]);
    assert.equal(code, 0, stderr);
    assert.equal(stdout, `xff=127.0.0.2 proto=https ${version === "--http2" ? "2" : "1.1"}`);
  }
  await waitFor(() => gw.tcpRecords.length === 1, "the passthrough record");
  assert.equal(gw.tcpRecords[0].sni, "a.test");
  assert.equal(app.requests.length, 2);
});

Deno.test("a TCP TLS entrypoint terminates some names, passes others through", async () => {
  await using plain = tcpUpstream(async (conn) => {
    const got = await readToEnd(conn);
    await writeAll(conn, `plain got ${text(got)}, then the upstream ends`);
    await conn.closeWrite();
  });
  await using other = await tlsUpstream("other.test");
  await using gw = await startProxy(
    yaml`
    entrypoints:
      tls:
        address: "127.0.0.1:0"
        protocol: tcp
        tls:
          certificates:
            - { cert: a.test.crt, key: a.test.key }
            - { cert: localhost.crt, key: localhost.key }
    tcp_routes:
      - { name: a, entrypoints: [tls], sni: a.test, service: plain }
      - { name: other, entrypoints: [tls], sni: other.test, passthrough: true, service: other }
      - { name: rest, entrypoints: [tls], service: plain, proxy_protocol: v1 }
    services:
      plain: { servers: ["${plain.url}"] }
      other: { servers: ["${other.url}"] }
  ` + QUIET,
  );
  const port = gw.port("tls");
  const a = await tlsClient(port, "a.test");
  await writeAll(a, "A");
  await a.closeWrite();
  assert.equal(text(await readToEnd(a)), "plain got A, then the upstream ends");
  a.close();
  const o = await tlsClient(port, "other.test");
  assert.equal(text(await readBytes(o, 22)), "hello from other.test\n");
  o.close();
  const rest = await tlsClient(port, "localhost");
  await writeAll(rest, "R");
  await rest.closeWrite();
  const got = text(await readToEnd(rest));
  rest.close();
  // The relayed route sends the real client (not the relay) in its PROXY header.
  assert.match(got, /^plain got PROXY TCP4 127\.0\.0\.1 127\.0\.0\.1 \d+ \d+\r\nR, then/);
  const clientPort = Number(/^plain got PROXY TCP4 \S+ \S+ (\d+)/.exec(got)![1]);
  assert.equal(Number(/ (\d+)\r\n/.exec(got)![1]), port);
  await waitFor(() => gw.tcpRecords.length === 3, "three records");
  const rec = (route: string) => gw.tcpRecords.find((r) => r.route === route)!;
  assert.deepEqual([rec("a").tls, rec("a").sni, rec("a").outcome], [
    "terminated",
    "a.test",
    "closed",
  ]);
  assert.equal(rec("other").tls, "passthrough");
  assert.equal(rec("rest").clientPort, clientPort);
});

Deno.test("the ClientHello must come within the handshake time and bound", async () => {
  await using up = tcpUpstream();
  await using gw = await startProxy(
    yaml`
    entrypoints:
      edge: { address: "127.0.0.1:0", protocol: tcp }
    tcp_routes:
      - { entrypoints: [edge], sni: a.test, passthrough: true, service: up }
      - { entrypoints: [edge], service: up }
    services: { up: { servers: ["${up.url}"] } }
    timeouts: { tls_handshake: 300ms }
  ` + QUIET,
  );
  const port = gw.port("edge");
  // A hello that starts and stalls is given up after the deadline.
  const stalled = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(stalled, Uint8Array.of(22, 3, 1, 0x02, 0x00, 1, 0, 1));
  const started = Date.now();
  assert.equal((await within(3000, "the deadline", readToEnd(stalled))).length, 0);
  assert.ok(Date.now() - started >= 250);
  stalled.close();
  // Records announcing a 64 KiB hello are refused at once.
  const huge = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(huge, Uint8Array.of(22, 3, 1, 0x40, 0x00, 1, 1, 0, 0));
  assert.equal((await within(2000, "the refusal", readToEnd(huge))).length, 0);
  huge.close();
  // Bytes that are not TLS go to the default route, untouched.
  const plain = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(plain, "SSH-2.0-test\r\n");
  await plain.closeWrite();
  assert.equal(text(await readToEnd(plain)), "SSH-2.0-test\r\n");
  plain.close();
  await waitFor(() => gw.tcpRecords.length === 3, "three records");
  assert.deepEqual(gw.tcpRecords.map((r) => r.outcome), ["client_hello", "client_hello", "closed"]);
  assert.match(gw.tcpRecords[0].error!, /within the time limit/);
  assert.equal(up.accepted, 1);
});

Deno.test("max_connections_per_client: HTTPS connections relayed by a passthrough front count against the client's address", async () => {
  await using app = httpUpstream();
  await using passthrough = await tlsUpstream("a.test");
  await using gw = await httpsWithPassthrough(
    app.url,
    passthrough.url,
    "limits: { max_connections_per_client: 2 }\n",
  );
  const port = gw.port("websecure");
  /** An HTTPS request on a new connection: kept open when served, null when refused. */
  const request = () =>
    servedOrClosed(() => tlsClient(port, "localhost", ["http/1.1"]), "localhost");
  const held: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const conn = await request();
      assert.ok(conn !== null, `connection ${i + 1} is served`);
      held.push(conn);
    }
    assert.equal(await request(), null, "the third from the same address is refused");
    held.shift()!.close();
    await waitFor(async () => {
      const conn = await request();
      if (conn !== null) held.push(conn);
      return conn !== null;
    }, "a place free again");
  } finally {
    for (const conn of held) conn.close();
  }
});
