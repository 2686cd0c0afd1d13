/**
 * The PROXY protocol on TCP streams: sent to upstreams that ask for it (v1, v2), accepted only
 * from trusted load balancers, required from them, refused from anyone else.
 */
import assert from "node:assert/strict";
import { testPki } from "../testing/certs.ts";
import { startProxy, yaml } from "../testing/proxy.ts";
import { waitFor } from "../testing/servers.ts";
import {
  readToEnd,
  reload,
  type TcpUpstream,
  tcpUpstream,
  text,
  within,
  writeAll,
} from "../testing/tcp_peers.ts";

const QUIET = `log: { access_log: { enabled: false } }\nadmin: { address: "off" }\n`;
const SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

/** An upstream that keeps everything each connection sent, then echoes "ok". */
function recorder(): TcpUpstream & { readonly got: Uint8Array[] } {
  const got: Uint8Array[] = [];
  const up = tcpUpstream(async (conn) => {
    got.push(await readToEnd(conn));
    await writeAll(conn, "ok");
    await conn.closeWrite();
  });
  return Object.assign(up, { got });
}

/** An entrypoint "db"; `entrypoint` and `route` add keys. */
function config(upstream: string, entrypoint: string, route: string, more = "") {
  return yaml`
    entrypoints:
      db: { address: "127.0.0.1:0", protocol: tcp, ${entrypoint} }
    tcp_routes: [{ name: db, entrypoints: [db], service: up, ${route} }]
    services: { up: { servers: ["${upstream}"] } }
  ` + QUIET + more;
}

/** Sends `bytes` then ends its side; returns what came back. */
async function exchange(port: number, ...parts: (string | Uint8Array)[]): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  for (const part of parts) await writeAll(conn, part);
  await conn.closeWrite();
  const back = text(
    await within(3000, "the answer", readToEnd(conn).catch(() => new Uint8Array(0))),
  );
  conn.close();
  return back;
}

Deno.test("upstreams asking for it get a v1 or v2 header with the client's address first", async () => {
  await using up = recorder();
  await using gw = await startProxy(config(up.url, "", "proxy_protocol: v1"));
  const port = gw.port("db");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const clientPort = conn.localAddr.port;
  await writeAll(conn, "hello");
  await conn.closeWrite();
  assert.equal(text(await readToEnd(conn)), "ok");
  conn.close();
  assert.equal(text(up.got[0]), `PROXY TCP4 127.0.0.1 127.0.0.1 ${clientPort} ${port}\r\nhello`);

  await reload(gw, config(up.url, "", "proxy_protocol: v2"));
  const conn2 = await Deno.connect({ hostname: "127.0.0.1", port });
  const p2 = conn2.localAddr.port;
  await writeAll(conn2, "hi");
  await conn2.closeWrite();
  await readToEnd(conn2);
  conn2.close();
  const ports = [p2 >> 8, p2 & 0xff, port >> 8, port & 0xff];
  assert.deepEqual(
    [...up.got[1]],
    [...SIG, 0x21, 0x11, 0, 12, 127, 0, 0, 1, 127, 0, 0, 1, ...ports, 0x68, 0x69],
  );
  await waitFor(() => gw.tcpRecords.length === 2, "two records");
  assert.deepEqual(gw.tcpRecords.map((r) => r.bytesUp), [5, 2]);
});

Deno.test("a trusted load balancer's v1 or v2 header gives the client address", async () => {
  await using up = recorder();
  await using gw = await startProxy(
    config(up.url, "proxy_protocol: { trusted: [127.0.0.0/8] }", "proxy_protocol: v1"),
  );
  const port = gw.port("db");
  assert.equal(
    await exchange(port, "PROXY TCP4 203.0.113.9 198.51.100.1 40000 5432\r\nhello"),
    "ok",
  );
  assert.equal(text(up.got[0]), "PROXY TCP4 203.0.113.9 198.51.100.1 40000 5432\r\nhello");
  const v2 = Uint8Array.of(
    ...SIG,
    0x21,
    0x21,
    0,
    36,
    ...[0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 9],
    ...[0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1],
    0x9c,
    0x40,
    0x15,
    0x38,
  );
  // The header and the first bytes may come in separate segments.
  assert.equal(await exchange(port, v2.subarray(0, 7), v2.subarray(7), "v2 data"), "ok");
  assert.equal(text(up.got[1]), "PROXY TCP6 2001:db8::9 2001:db8::1 40000 5432\r\nv2 data");
  // LOCAL (a health check from the balancer itself): the peer's own address is used.
  assert.equal(await exchange(port, Uint8Array.of(...SIG, 0x20, 0x00, 0, 0), "local"), "ok");
  assert.match(text(up.got[2]), /^PROXY TCP4 127\.0\.0\.1 127\.0\.0\.1 \d+ \d+\r\nlocal$/);
  await waitFor(() => gw.tcpRecords.length === 3, "three records");
  assert.deepEqual(gw.tcpRecords.map((r) => [r.clientIp, r.clientPort]), [
    ["203.0.113.9", 40000],
    ["2001:db8::9", 40000],
    ["127.0.0.1", gw.tcpRecords[2].clientPort],
  ]);
});

Deno.test("a trusted peer without a header, and an untrusted one with a header, are refused", async () => {
  await using up = recorder();
  await using gw = await startProxy(
    config(up.url, "proxy_protocol: { trusted: [127.0.0.1] }", ""),
  );
  const port = gw.port("db");
  assert.equal(await exchange(port, "GET / HTTP/1.1\r\n\r\n"), "");
  assert.equal(await exchange(port, "PROXY TCP4 1.2.3.4\r\n"), "");
  assert.equal(up.accepted, 0);

  // Untrusted (the list holds someone else): a header is refused, plain bytes pass untouched.
  await reload(gw, config(up.url, "proxy_protocol: { trusted: [10.0.0.0/8] }", ""));
  assert.equal(await exchange(port, "PRO", "XY TCP4 1.2.3.4 5.6.7.8 1 2\r\nsneaky"), "");
  assert.equal(await exchange(port, "PROTOCOL 1\r\n"), "ok");
  // The stream starts before the first bytes (server-first protocols work), so the upstream
  // saw a connection for the refused one, but none of its bytes.
  assert.deepEqual(up.got.map(text), ["", "PROTOCOL 1\r\n"]);
  await waitFor(() => gw.tcpRecords.length === 4, "four records");
  assert.deepEqual(gw.tcpRecords.map((r) => r.outcome), [
    "proxy_protocol",
    "proxy_protocol",
    "proxy_protocol",
    "closed",
  ]);
  assert.equal(
    gw.tcpRecords[0].error,
    "no PROXY protocol header, which peers in proxy_protocol.trusted must send",
  );
  assert.equal(
    gw.tcpRecords[1].error,
    'bad PROXY header: v1 line "PROXY TCP4 1.2.3.4" is not "PROXY TCP4|TCP6 src dst sport dport"',
  );
  assert.equal(
    gw.tcpRecords[2].error,
    "a PROXY protocol header from a peer not listed in proxy_protocol.trusted",
  );
});

Deno.test("a PROXY header before TLS on a TLS-terminating entrypoint", async () => {
  await using up = recorder();
  await using gw = await startProxy(
    config(
      up.url,
      "proxy_protocol: { trusted: [127.0.0.1] }, tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }",
      "proxy_protocol: v1",
    ),
  );
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: gw.port("db") });
  await writeAll(tcp, "PROXY TCP4 192.0.2.44 192.0.2.1 1234 6380\r\n");
  const tls = await Deno.startTls(tcp, {
    hostname: "localhost",
    caCerts: [(await testPki()).caPem],
  });
  await writeAll(tls, "over tls");
  await tls.closeWrite();
  assert.equal(text(await readToEnd(tls)), "ok");
  tls.close();
  assert.equal(text(up.got[0]), "PROXY TCP4 192.0.2.44 192.0.2.1 1234 6380\r\nover tls");
  await waitFor(() => gw.tcpRecords.length === 1, "the record");
  assert.deepEqual([gw.tcpRecords[0].clientIp, gw.tcpRecords[0].tls], ["192.0.2.44", "terminated"]);
});
