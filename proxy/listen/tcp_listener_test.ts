/**
 * TCP entrypoints end to end with real sockets: byte streams, half-close, resets, many
 * connections, limits, timeouts, connect failures and health checks.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { startProxy, yaml } from "../testing/proxy.ts";
import { closedPort, waitFor } from "../testing/servers.ts";
import {
  readBytes,
  readToEnd,
  reload,
  tcpUpstream,
  text,
  tlsClient,
  within,
  writeAll,
} from "../testing/tcp_peers.ts";

/** A plain TCP entrypoint "db" with one route to `servers`; `extra` is appended. */
function plain(
  servers: string[],
  more: { route?: string; entrypoint?: string; extra?: string } = {},
) {
  return yaml`
    entrypoints:
      db: { address: "127.0.0.1:0", protocol: tcp, ${more.entrypoint ?? ""} }
    tcp_routes: [{ name: db, entrypoints: [db], service: up, ${more.route ?? ""} }]
    services: { up: { servers: [${servers.map((s) => `"${s}"`).join(", ")}] } }
    log: { access_log: { enabled: false } }
    admin: { address: "off" }
    ${more.extra ?? ""}
  `;
}

const connect = (port: number) => Deno.connect({ hostname: "127.0.0.1", port });

Deno.test("half-close: the client ends its side and still gets all the upstream sends after", async () => {
  await using up = tcpUpstream(async (conn) => {
    const got = await readToEnd(conn); // waits for the client's FIN
    await writeAll(conn, `you sent ${got.length} bytes; `);
    await new Promise((r) => setTimeout(r, 50));
    await writeAll(conn, "and this comes later");
    await conn.closeWrite();
  });
  await using gw = await startProxy(plain([up.url]));
  const client = await connect(gw.port("db"));
  await writeAll(client, "x".repeat(100_000));
  await client.closeWrite();
  assert.equal(text(await readToEnd(client)), "you sent 100000 bytes; and this comes later");
  client.close();
  await waitFor(() => gw.tcpRecords.length === 1, "the log record");
  const [record] = gw.tcpRecords;
  assert.equal(record.outcome, "closed");
  assert.equal(record.bytesUp, 100_000);
  assert.equal(record.bytesDown, 43);
  assert.deepEqual([record.route, record.service, record.upstream], ["db", "up", up.url]);
  assert.equal(record.clientIp, "127.0.0.1");
  assert.equal(record.tls, "none");
});

Deno.test("the upstream half-closes first: the client can still send", async () => {
  await using up = tcpUpstream(async (conn) => {
    await writeAll(conn, "banner\n");
    await conn.closeWrite();
    const got = await readToEnd(conn);
    assert.equal(text(got), "late upload");
  });
  await using gw = await startProxy(plain([up.url]));
  const client = await connect(gw.port("db"));
  assert.equal(text(await readToEnd(client)), "banner\n");
  await writeAll(client, "late upload");
  await client.closeWrite();
  await waitFor(() => gw.tcpRecords.length === 1, "the stream to end");
  assert.equal(gw.tcpRecords[0].outcome, "closed");
  assert.equal(gw.tcpRecords[0].bytesUp, 11);
  client.close();
});

Deno.test("200 concurrent connections each get their own bytes back", async () => {
  await using up = tcpUpstream();
  await using gw = await startProxy(plain([up.url]));
  const port = gw.port("db");
  const results = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
    const payload = crypto.getRandomValues(new Uint8Array(32 * 1024 + i));
    const conn = await connect(port);
    const [, echoed] = await Promise.all([
      writeAll(conn, payload).then(() => conn.closeWrite()),
      readToEnd(conn),
    ]);
    conn.close();
    return echoed.length === payload.length && echoed.every((b, j) => b === payload[j]);
  }));
  assert.equal(results.filter(Boolean).length, 200);
  assert.equal(up.accepted, 200);
  await waitFor(() => gw.tcpRecords.length === 200, "200 log records");
  assert.ok(gw.tcpRecords.every((r) => r.outcome === "closed"));
  assert.equal(gw.runtime.clients.count("db"), 0);
});

Deno.test("a reset on either side ends the other side at once", async () => {
  // Upstream resets (node:net can send RST) after the first bytes: the client sees the end.
  const resetting = net.createServer((socket) => {
    socket.once("data", () => socket.resetAndDestroy());
  });
  await new Promise<void>((r) => resetting.listen(0, "127.0.0.1", r));
  const resetPort = (resetting.address() as net.AddressInfo).port;
  try {
    await using gw = await startProxy(plain([`tcp://127.0.0.1:${resetPort}`]));
    const client = await connect(gw.port("db"));
    await writeAll(client, "hello");
    const ended = await within(2000, "the end", readToEnd(client)).then((b) => b.length, () => -1);
    assert.ok(ended <= 0);
    await waitFor(() => gw.tcpRecords.length === 1, "the record");
    assert.equal(gw.tcpRecords[0].outcome, "reset");
    client.close();

    // The client resets mid-stream: the upstream sees its connection end.
    await using up = tcpUpstream(async (conn) => {
      await readToEnd(conn).catch(() => {});
      upstreamEnded = true;
    });
    let upstreamEnded = false;
    await reload(gw, plain([up.url]));
    const socket = net.connect({ host: "127.0.0.1", port: gw.port("db") });
    await new Promise((r) => socket.once("connect", r));
    socket.write("partial upload");
    await waitFor(() => up.accepted === 1, "the upstream connection");
    socket.resetAndDestroy();
    await waitFor(() => upstreamEnded, "the upstream to see the end");
    await waitFor(() => gw.tcpRecords.length === 2, "the second record");
    assert.equal(gw.tcpRecords[1].outcome, "reset");
  } finally {
    resetting.close();
  }
});

Deno.test("max_connections: over the limit a connection is closed at once and logged", async () => {
  await using up = tcpUpstream();
  await using gw = await startProxy(plain([up.url], { entrypoint: "max_connections: 2" }));
  const port = gw.port("db");
  const open = [await connect(port), await connect(port)];
  for (const c of open) await writeAll(c, "hi");
  for (const c of open) assert.equal(text(await readBytes(c, 2)), "hi");
  const third = await connect(port);
  assert.equal((await within(2000, "the refusal", readToEnd(third))).length, 0);
  third.close();
  await waitFor(() => gw.tcpRecords.some((r) => r.outcome === "refused"), "the refusal record");
  const refused = gw.tcpRecords.find((r) => r.outcome === "refused")!;
  assert.equal(refused.error, "2 connections are open on this entrypoint (max_connections)");
  assert.equal(up.accepted, 2);
  open[0].close();
  await waitFor(() => gw.runtime.clients.count("db") === 1, "a slot to free");
  const fourth = await connect(port);
  await writeAll(fourth, "ok");
  assert.equal(text(await readBytes(fourth, 2)), "ok");
  fourth.close();
  open[1].close();
});

Deno.test("idle timeout closes a silent stream", async () => {
  await using up = tcpUpstream();
  await using gw = await startProxy(plain([up.url], { route: "timeouts: { idle: 300ms }" }));
  const client = await connect(gw.port("db"));
  await writeAll(client, "a");
  assert.equal(text(await readBytes(client, 1)), "a");
  const started = Date.now();
  assert.equal((await within(3000, "the idle timeout", readToEnd(client))).length, 0);
  assert.ok(Date.now() - started >= 250, `closed after ${Date.now() - started} ms`);
  client.close();
  await waitFor(() => gw.tcpRecords.length === 1, "the record");
  assert.equal(gw.tcpRecords[0].outcome, "idle_timeout");
});

Deno.test("a failed connect is retried on the next server; all failing is logged", async () => {
  await using up = tcpUpstream();
  const dead = `tcp://127.0.0.1:${closedPort()}`;
  await using gw = await startProxy(plain([dead, up.url], { extra: "" }));
  for (let i = 0; i < 2; i++) {
    const client = await connect(gw.port("db"));
    await writeAll(client, "ping");
    await client.closeWrite();
    assert.equal(text(await readToEnd(client)), "ping");
    client.close();
  }
  await waitFor(() => gw.tcpRecords.length === 2, "two records");
  assert.deepEqual(gw.tcpRecords.map((r) => r.outcome), ["closed", "closed"]);
  assert.ok(gw.tcpRecords.some((r) => r.attempts === 2), "one stream needed a second attempt");

  await reload(gw, plain([dead]));
  const client = await connect(gw.port("db"));
  assert.equal((await within(3000, "the failure", readToEnd(client))).length, 0);
  client.close();
  await waitFor(() => gw.tcpRecords.length === 3, "the failure record");
  assert.equal(gw.tcpRecords[2].outcome, "connect_failed");
  assert.match(gw.tcpRecords[2].error ?? "", /^connect failed: /);
});

Deno.test("a TCP health check (connect only) takes a dead server out", async () => {
  await using up = tcpUpstream();
  const dead = `tcp://127.0.0.1:${closedPort()}`;
  await using gw = await startProxy(yaml`
    entrypoints:
      db: { address: "127.0.0.1:0", protocol: tcp }
    tcp_routes: [{ entrypoints: [db], service: up }]
    services:
      up:
        servers: ["${dead}", "${up.url}"]
        health_check: { interval: 300ms, timeout: 250ms, unhealthy_threshold: 1 }
        passive_health: false
        retries: 0
    log: { access_log: { enabled: false } }
    admin: { address: "off" }
  `);
  await waitFor(
    () => [...gw.runtime.servers()].some((s) => s.url === dead && !s.up),
    "the dead server to be marked down",
  );
  assert.ok([...gw.runtime.servers()].find((s) => s.url === up.url)?.up);
  for (let i = 0; i < 4; i++) {
    const client = await connect(gw.port("db"));
    await writeAll(client, "x");
    await client.closeWrite();
    assert.equal(text(await readToEnd(client)), "x");
    client.close();
  }
  await waitFor(() => gw.tcpRecords.length === 4, "four records");
  assert.ok(gw.tcpRecords.every((r) => r.outcome === "closed" && r.attempts === 1));
});

Deno.test("TLS terminated at the entrypoint: plain bytes to the upstream, half-close kept", async () => {
  await using up = tcpUpstream(async (conn) => {
    const got = await readToEnd(conn);
    await writeAll(conn, `plain upstream got "${text(got)}"`);
    await conn.closeWrite();
  });
  await using gw = await startProxy(yaml`
    entrypoints:
      redis:
        address: "127.0.0.1:0"
        protocol: tcp
        tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
    tcp_routes: [{ entrypoints: [redis], service: up }]
    services: { up: { servers: ["${up.url}"] } }
    admin: { address: "off" }
  `);
  const client = await tlsClient(gw.port("redis"), "localhost");
  await writeAll(client, "PING");
  await client.closeWrite();
  assert.equal(text(await readToEnd(client)), `plain upstream got "PING"`);
  client.close();
  assert.equal(text(up.firsts[0]), "PING");
  await waitFor(() => gw.tcpRecords.length === 1, "the record");
  assert.equal(gw.tcpRecords[0].tls, "terminated");
  assert.equal(gw.tcpRecords[0].outcome, "closed");
});
