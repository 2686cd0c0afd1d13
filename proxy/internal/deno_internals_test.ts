/**
 * The internal Deno APIs Gatehouse relies on, exercised for real: when a Deno upgrade removes or
 * changes one, these fail first and say which.
 */
import assert from "node:assert/strict";
import { testPki } from "../testing/certs.ts";
import { waitFor } from "../testing/servers.ts";
import { abortQuietly, listenTlsWithSni, serveHttpOnConnection } from "./deno_internals.ts";

async function handshakeAs(port: number, serverName: string, caPem: string) {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  const tls = await Deno.startTls(tcp, {
    hostname: serverName,
    caCerts: [caPem],
    alpnProtocols: ["http/1.1"],
  });
  try {
    return await tls.handshake();
  } finally {
    tls.close();
  }
}

Deno.test("the SNI resolver option picks a certificate per server name, at once or later, or refuses", async () => {
  const pki = await testPki();
  const a = await pki.leaf("a.test");
  const other = await pki.leaf("other.test");
  const asked: string[] = [];
  using listener = listenTlsWithSni({
    hostname: "127.0.0.1",
    port: 0,
    alpnProtocols: ["http/1.1"],
    reusePort: false,
    resolve: (name) => {
      asked.push(name);
      if (name === "a.test") return { cert: a.certPem, key: a.keyPem };
      // A promise is awaited: the resolution gate (proxy/tls/resolution_gate.ts) relies on it.
      if (name === "other.test") {
        return new Promise((resolve) =>
          setTimeout(() => resolve({ cert: other.certPem, key: other.keyPem }), 20)
        );
      }
      throw new Error(`no certificate for ${name}`);
    },
  });
  const accepting = (async () => {
    for await (const conn of listener) {
      conn.handshake().catch(() => {}).finally(() => conn.close());
    }
  })();
  const port = listener.addr.port;
  // The client verifies the name: only the certificate for that name passes.
  assert.equal((await handshakeAs(port, "a.test", pki.caPem)).alpnProtocol, "http/1.1");
  await handshakeAs(port, "other.test", pki.caPem);
  await assert.rejects(handshakeAs(port, "unknown.test", pki.caPem));
  assert.deepEqual(asked, ["a.test", "other.test", "unknown.test"]);
  listener.close();
  await accepting.catch(() => {});
});

/** A TLS listener offering only h2, with the localhost certificate for every name. */
async function h2Listener(): Promise<Deno.TlsListener> {
  const leaf = await (await testPki()).leaf();
  return listenTlsWithSni({
    hostname: "127.0.0.1",
    port: 0,
    alpnProtocols: ["h2"],
    reusePort: false,
    resolve: () => ({ cert: leaf.certPem, key: leaf.keyPem }),
  });
}

Deno.test("serveHttpOnConnection serves h2 on one accepted connection; shutdown ends it", async () => {
  const pki = await testPki();
  using listener = await h2Listener();
  const served = (async () => {
    const conn = await listener.accept();
    assert.equal((await conn.handshake()).alpnProtocol, "h2");
    return serveHttpOnConnection(
      conn,
      (req) => new Response(`hello ${new URL(req.url).pathname}`),
      () => new Response(null, { status: 500 }),
    );
  })();
  using client = Deno.createHttpClient({ caCerts: [pki.caPem], http1: false, http2: true });
  const res = await fetch(`https://localhost:${listener.addr.port}/h2`, { client });
  assert.equal(await res.text(), "hello /h2");
  const conn = await served;
  let finished = false;
  conn.finished.then(() => finished = true);
  conn.shutdown();
  await waitFor(() => finished, "the connection to finish after shutdown", 5000);
  assert.equal(conn.abort(), false, "abort after shutdown must do nothing");
});

Deno.test("aborting the serve signal after hyper released the connection does not crash", async () => {
  const pki = await testPki();
  using listener = await h2Listener();
  // Deno's own function, with our own signal: its abort listener throws BadResource once the
  // connection is gone, in a place no caller can catch (see abortQuietly).
  const key = (Deno as unknown as { internal: symbol }).internal;
  const internal = (Deno as unknown as Record<symbol, {
    serveHttpOnConnection: (
      conn: Deno.Conn,
      signal: AbortSignal,
      handler: () => Response,
      onError: () => Response,
      onListen: () => void,
    ) => { finished: Promise<void> };
  }>)[key];
  const abort = new AbortController();
  const served = (async () => {
    const conn = await listener.accept();
    await conn.handshake();
    return internal.serveHttpOnConnection(
      conn,
      abort.signal,
      () => new Response("ok"),
      () => new Response(null, { status: 500 }),
      () => {},
    );
  })();
  const client = Deno.createHttpClient({ caCerts: [pki.caPem], http1: false, http2: true });
  const res = await fetch(`https://localhost:${listener.addr.port}/`, { client });
  assert.equal(await res.text(), "ok");
  client.close();
  await (await served).finished;
  abortQuietly(abort);
  assert.ok(abort.signal.aborted);
});
