/**
 * The direct read of Deno's connections (direct_read.ts), exercised for real on TCP and TLS: when a
 * Deno upgrade removes the read op or the resource id symbol, this fails first and says which.
 */
import assert from "node:assert/strict";
import { testPki } from "../testing/certs.ts";
import { directRead } from "./direct_read.ts";

async function readAll(conn: object & { close(): void }): Promise<string> {
  const read = directRead(conn);
  assert.ok(read !== null, `Deno ${Deno.version.deno} has no direct read for its connections`);
  const buf = new Uint8Array(4);
  let text = "";
  while (true) {
    const n = await read(buf);
    if (n === 0) return text;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
}

Deno.test("a Deno TCP connection is read through the read op, 0 at its end", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await listener.accept();
  await client.write(new TextEncoder().encode("hello, direct"));
  client.close();
  assert.equal(await readAll(server), "hello, direct");
  server.close();
});

Deno.test("a Deno TLS connection is read through the read op, 0 at its end", async () => {
  const pki = await testPki();
  const leaf = await pki.leaf("a.test");
  using listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: leaf.certPem,
    key: leaf.keyPem,
  });
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const client = await Deno.startTls(tcp, { hostname: "a.test", caCerts: [pki.caPem] });
  const server = await listener.accept();
  await client.write(new TextEncoder().encode("hello over TLS"));
  await client.closeWrite();
  const [text] = await Promise.all([readAll(server), server.handshake()]);
  assert.equal(text, "hello over TLS");
  client.close();
  server.close();
});

Deno.test("an object that is not a Deno connection has no direct read", () => {
  assert.equal(directRead({ read: () => Promise.resolve(null), close() {} }), null);
});
