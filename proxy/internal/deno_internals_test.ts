/**
 * The internal Deno APIs Gatehouse relies on, exercised for real: when a Deno upgrade removes or
 * changes one, these fail first and say which.
 */
import assert from "node:assert/strict";
import { testPki } from "../testing/certs.ts";
import { listenTlsWithSni } from "./deno_internals.ts";

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
