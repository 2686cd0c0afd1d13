/**
 * TCP streams across reloads and shutdown: kept while their route exists (even when the
 * listener is replaced), drained within the bound when the route or entrypoint goes, and
 * drained by shutdown.
 */
import assert from "node:assert/strict";
import { startProxy, tlsClient as proxyTlsClient, yaml } from "../testing/proxy.ts";
import { httpUpstream, waitFor } from "../testing/servers.ts";
import {
  readBytes,
  readToEnd,
  reload,
  tcpUpstream,
  text,
  tlsClient,
  tlsUpstream,
  within,
  writeAll,
} from "../testing/tcp_peers.ts";

const QUIET = `log: { access_log: { enabled: false } }\nadmin: { address: "off" }\n`;

function config(upstream: string, route = "db", more = "") {
  return yaml`
    entrypoints:
      db: { address: "127.0.0.1:0", protocol: tcp }
    tcp_routes: [{ name: ${route}, entrypoints: [db], service: up }]
    services: { up: { servers: ["${upstream}"] } }
    timeouts: { drain: 300ms }
  ` + QUIET + more;
}

/** Sends `data` and waits for its echo. */
async function roundTrip(conn: Deno.Conn, data: string): Promise<void> {
  await writeAll(conn, data);
  assert.equal(text(await readBytes(conn, data.length)), data);
}

/** Milliseconds until the server side ends the stream. */
async function msUntilClosed(conn: Deno.Conn): Promise<number> {
  const started = Date.now();
  await within(5000, "the stream to be closed", readToEnd(conn)).catch(() => {});
  return Date.now() - started;
}

Deno.test("a reload that keeps the route keeps the stream open, on the same port", async () => {
  await using up = tcpUpstream();
  await using gw = await startProxy(config(up.url));
  const port = gw.port("db");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await roundTrip(conn, "before");
  // Everything else changes: timeouts, a new entrypoint and route, the service's servers.
  await using other = tcpUpstream();
  await reload(
    gw,
    yaml`
    entrypoints:
      db: { address: "127.0.0.1:${port}", protocol: tcp, max_connections: 10 }
      more: { address: "127.0.0.1:0", protocol: tcp }
    tcp_routes:
      - { name: db, entrypoints: [db], service: up, timeouts: { connect: 1s } }
      - { name: more, entrypoints: [more], service: up }
    services: { up: { servers: ["${other.url}", "${up.url}"] } }
    timeouts: { drain: 300ms }
  ` + QUIET,
  );
  assert.equal(gw.port("db"), port);
  await new Promise((r) => setTimeout(r, 500)); // longer than the drain bound
  await roundTrip(conn, "after");
  await conn.closeWrite();
  assert.equal((await readToEnd(conn)).length, 0);
  conn.close();
  await waitFor(() => gw.tcpRecords.length === 1, "the record");
  assert.equal(gw.tcpRecords[0].outcome, "closed");
  assert.equal(gw.tcpRecords[0].bytesUp, 11);
});

Deno.test("a listener replaced on its port by a reload (SNI routing added) keeps its streams", async () => {
  await using up = tcpUpstream();
  await using tls = await tlsUpstream("a.test");
  const entrypoint = (port: number) =>
    `db: { address: "127.0.0.1:${port}", protocol: tcp, tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] } }`;
  await using gw = await startProxy(
    yaml`
    entrypoints: { ${entrypoint(0)} }
    tcp_routes: [{ name: db, entrypoints: [db], service: up }]
    services: { up: { servers: ["${up.url}"] } }
  ` + QUIET,
  );
  const port = gw.port("db");
  const conn = await tlsClient(port, "localhost");
  await roundTrip(conn, "one");
  // One route and TLS: the listener terminates TLS itself. An SNI route needs a plain listener
  // that peeks, with TLS terminated behind it.
  await reload(
    gw,
    yaml`
    entrypoints: { ${entrypoint(port)} }
    tcp_routes:
      - { name: db, entrypoints: [db], service: up }
      - { name: tls, entrypoints: [db], sni: a.test, passthrough: true, service: tls }
    services: { up: { servers: ["${up.url}"] }, tls: { servers: ["${tls.url}"] } }
  ` + QUIET,
  );
  assert.equal(gw.port("db"), port);
  await roundTrip(conn, "two");
  conn.close();
  const passthrough = await tlsClient(port, "a.test");
  assert.equal(text(await readBytes(passthrough, 18)), "hello from a.test\n");
  passthrough.close();
  const terminated = await tlsClient(port, "localhost");
  await roundTrip(terminated, "three");
  terminated.close();
});

Deno.test("an HTTPS entrypoint that gains a passthrough route keeps serving HTTPS", async () => {
  await using tls = await tlsUpstream("a.test");
  await using app = httpUpstream();
  const base = (port: number) =>
    yaml`
    entrypoints:
      websecure:
        address: "127.0.0.1:${port}"
        tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
    routes: [{ service: app }]
    services: { app: { servers: ["${app.url}"] }, tls: { servers: ["${tls.url}"] } }
  ` + QUIET;
  await using gw = await startProxy(base(0));
  const port = gw.port("websecure");
  const client = await proxyTlsClient();
  const get = async () => await (await fetch(`https://localhost:${port}/`, { client })).text();
  assert.equal(await get(), "ok");
  await reload(
    gw,
    base(port) +
      "tcp_routes: [{ entrypoints: [websecure], sni: a.test, passthrough: true, service: tls }]\n",
  );
  assert.equal(await get(), "ok");
  const passthrough = await tlsClient(port, "a.test");
  assert.equal(text(await readBytes(passthrough, 18)), "hello from a.test\n");
  passthrough.close();
  await reload(gw, base(port));
  assert.equal(await get(), "ok");
  await assert.rejects(() => tlsClient(port, "a.test"));
  client.close();
});

Deno.test("removing the route drains its streams within the drain bound", async () => {
  await using up = tcpUpstream();
  await using gw = await startProxy(config(up.url));
  const port = gw.port("db");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await roundTrip(conn, "x");
  await reload(gw, config(up.url, "renamed"));
  const ms = await msUntilClosed(conn);
  assert.ok(ms >= 250 && ms < 3000, `closed after ${ms} ms`);
  conn.close();
  await waitFor(() => gw.tcpRecords.length === 1, "the record");
  assert.deepEqual([gw.tcpRecords[0].route, gw.tcpRecords[0].outcome], ["db", "drained"]);
  const fresh = await Deno.connect({ hostname: "127.0.0.1", port });
  await roundTrip(fresh, "new route");
  fresh.close();
  await waitFor(() => gw.tcpRecords.length === 2, "the second record");
  assert.equal(gw.tcpRecords[1].route, "renamed");
});

Deno.test("removing the entrypoint stops accepting and drains its streams", async () => {
  await using up = tcpUpstream();
  await using gw = await startProxy(config(up.url));
  const port = gw.port("db");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await roundTrip(conn, "x");
  await reload(
    gw,
    yaml`
    entrypoints:
      web: { address: "127.0.0.1:0" }
    routes: [{ service: welcome@internal }]
    timeouts: { drain: 300ms }
  ` + QUIET,
  );
  await assert.rejects(() => Deno.connect({ hostname: "127.0.0.1", port }));
  const ms = await msUntilClosed(conn);
  assert.ok(ms < 3000, `closed after ${ms} ms`);
  conn.close();
  await waitFor(() => gw.tcpRecords.length === 1, "the record");
  assert.equal(gw.tcpRecords[0].outcome, "drained");
});

Deno.test("shutdown (SIGTERM) lets streams run for the drain time, then closes them", async () => {
  await using up = tcpUpstream();
  const gw = await startProxy(config(up.url));
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: gw.port("db") });
  await roundTrip(conn, "x");
  const started = Date.now();
  const shutdown = gw.close();
  await roundTrip(conn, "still served while draining");
  const ms = await msUntilClosed(conn);
  await shutdown;
  assert.ok(Date.now() - started >= 250 && ms < 3000, `closed after ${ms} ms`);
  conn.close();
  assert.deepEqual(gw.tcpRecords.map((r) => r.outcome), ["drained"]);
});
