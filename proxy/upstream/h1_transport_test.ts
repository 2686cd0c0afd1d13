import assert from "node:assert/strict";
import type { ServerRef, Service } from "../config/types.ts";
import { ConnectionRegistry } from "../net/connections.ts";
import { UpstreamError, type UpstreamResponse } from "../proto/exchange.ts";
import { HeaderList } from "../proto/header_list.ts";
import { testPki } from "../testing/certs.ts";
import { rawResponse, rawUpstream } from "../testing/servers.ts";
import { H1Transport } from "./h1_transport.ts";

function service(ref: ServerRef, caPem: string | null = null): Service {
  return {
    name: "svc",
    protocol: "http",
    servers: [ref],
    balancing: "round_robin",
    healthCheck: null,
    passiveHealth: null,
    tls: { caPem, caFile: null, serverName: null, insecureSkipVerify: false },
    host: "preserve",
    retries: 0,
    keepAlive: { maxIdlePerServer: 4, idleTimeout: 10_000 },
    httpProtocol: "http/1.1",
    pos: { file: "t.yaml", line: 1, col: 1 },
  };
}

function transportFor(
  url: string,
  caPem: string | null = null,
  connectTimeoutMs = 2000,
): H1Transport {
  const u = new URL(url);
  const ref: ServerRef = {
    url,
    scheme: u.protocol === "https:" ? "https" : "http",
    hostname: u.hostname,
    port: Number(u.port),
    path: null,
    weight: 1,
  };
  const deps = { registry: new ConnectionRegistry(), connectTimeoutMs: () => connectTimeoutMs };
  return new H1Transport(ref, service(ref, caPem), deps);
}

const OPTIONS = {
  responseHeaderMs: 2000,
  bodyIdleMs: 2000,
  maxHeaderBytes: 65536,
  signal: new AbortController().signal,
  replayable: () => true,
};

async function get(t: H1Transport, method = "GET", fields: [string, string][] = []) {
  const headers = HeaderList.from(fields);
  const res = await t.exchange(
    { method, target: "/x", host: "app.test", headers, body: null },
    OPTIONS,
  );
  return { status: res.status, text: await bodyText(res) };
}

async function bodyText(res: UpstreamResponse): Promise<string> {
  let text = "";
  while (true) {
    const chunk = await res.body?.read();
    if (chunk === null || chunk === undefined) return text;
    text += new TextDecoder().decode(chunk);
  }
}

Deno.test("exchanges reuse one keep-alive connection, over TCP and over verified TLS", async () => {
  await using plain = rawUpstream((_req, conn) => conn.write(rawResponse(200, [], "plain")));
  const t = transportFor(plain.url);
  for (let i = 0; i < 3; i++) assert.deepEqual(await get(t), { status: 200, text: "plain" });
  assert.equal(plain.accepted, 1);
  assert.deepEqual(t.connections(), { open: 1, idle: 1 });
  t.close();
  assert.deepEqual(t.connections(), { open: 0, idle: 0 });

  const pki = await testPki();
  const { certPem, keyPem } = await pki.leaf("localhost");
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: certPem, key: keyPem });
  const served = (async () => {
    const conn = await listener.accept();
    const buf = new Uint8Array(4096);
    await conn.read(buf);
    await conn.write(rawResponse(200, [["connection", "close"]], "tls"));
    conn.close();
  })();
  const tls = transportFor(`https://localhost:${listener.addr.port}`, pki.caPem);
  assert.deepEqual(await get(tls), { status: 200, text: "tls" });
  await served;
  listener.close();
  tls.close();
});

/**
 * An upstream whose keep-alive connections go stale: it answers the first request of each
 * connection, then closes the connection when the next request arrives without answering it
 * (the race of an upstream keep-alive timeout firing as a request goes out).
 */
function staleUpstream() {
  const served = new WeakSet<Deno.Conn>();
  return rawUpstream((_req, raw) => {
    if (served.has(raw.conn)) return raw.close();
    served.add(raw.conn);
    return raw.write(rawResponse(200, [], "fresh"));
  });
}

Deno.test("a request a stale keep-alive connection dropped is sent again when safe", async () => {
  await using up = staleUpstream();
  const t = transportFor(up.url);
  assert.deepEqual(await get(t), { status: 200, text: "fresh" });
  // Idempotent: repeated on a new connection.
  assert.deepEqual(await get(t), { status: 200, text: "fresh" });
  assert.equal(up.accepted, 2);
  // A POST with an Idempotency-Key may be repeated too.
  assert.deepEqual(await get(t, "POST", [["idempotency-key", "k1"]]), {
    status: 200,
    text: "fresh",
  });
  assert.equal(up.accepted, 3);
  // A plain POST that went out may have been acted on: not repeated.
  await assert.rejects(
    () => get(t, "POST"),
    (err) => err instanceof UpstreamError && err.kind === "reset" && err.requestSent,
  );
  assert.equal(up.accepted, 3);
  t.close();
});

Deno.test("a body already partly sent is never repeated", async () => {
  await using up = staleUpstream();
  const t = transportFor(up.url);
  await get(t);
  const headers = new HeaderList();
  await assert.rejects(() =>
    t.exchange({ method: "PUT", target: "/x", host: "app.test", headers, body: null }, {
      ...OPTIONS,
      replayable: () => false,
    })
  );
  assert.equal(up.accepted, 1);
  t.close();
});

Deno.test("a TLS server that never answers the handshake fails the dial at the connect timeout", async () => {
  // Accepts and stays silent: TCP connects, the TLS handshake never completes.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of silent) held.push(conn);
  })();
  const t = transportFor(`https://127.0.0.1:${silent.addr.port}`, null, 300);
  try {
    const err = await get(t).then(() => null, (e) => e);
    assert.ok(err instanceof UpstreamError, String(err));
    assert.equal(err.kind, "connect");
    assert.equal(err.message, "connect timed out");
    assert.equal(t.connections().open, 0);
  } finally {
    t.close();
    silent.close();
    for (const conn of held) conn.close();
    await accepting.catch(() => {});
  }
});
