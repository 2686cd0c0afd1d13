/**
 * The direct read and write of Deno's connections (direct_io.ts), exercised for real on TCP and
 * TLS: when a Deno upgrade removes the read or write op or the resource id symbol, this fails
 * first and says which.
 */
import assert from "node:assert/strict";
import { testPki } from "../testing/certs.ts";
import { directRead, directWriter, type Writer } from "./direct_io.ts";

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

/** A TLS client connected to a TLS server over loopback (the server's handshake still to run). */
async function tlsPair(): Promise<{ client: Deno.TlsConn; server: Deno.TlsConn }> {
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
  return { client, server: await listener.accept() };
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
  const { client, server } = await tlsPair();
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

/** Writes all of `text` through `conn`'s direct writer, which must not be `conn` itself. */
async function writeThrough(conn: Writer, text: string): Promise<void> {
  const writer = directWriter(conn);
  assert.notEqual(
    writer,
    conn,
    `Deno ${Deno.version.deno} has no direct write for its connections`,
  );
  const bytes = new TextEncoder().encode(text);
  for (let off = 0; off < bytes.length;) off += await writer.write(bytes.subarray(off));
}

Deno.test("a Deno TCP connection is written through the write op, which fails once closed", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await listener.accept();
  await writeThrough(server, "hello, direct write");
  const writer = directWriter(server);
  server.close();
  await assert.rejects(writer.write(new Uint8Array(1)), Deno.errors.BadResource);
  const read = directRead(client)!;
  const buf = new Uint8Array(64);
  let text = "";
  for (let n = await read(buf); n > 0; n = await read(buf)) {
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  assert.equal(text, "hello, direct write");
  client.close();
});

Deno.test("a Deno TLS connection is written through the write op", async () => {
  const { client, server } = await tlsPair();
  await Promise.all([writeThrough(server, "hello over TLS, written"), server.handshake()]);
  await server.closeWrite();
  assert.equal(await readAll(client), "hello over TLS, written");
  client.close();
  server.close();
});

Deno.test("an object that is not a Deno connection is its own writer", () => {
  const other = { write: (p: Uint8Array) => Promise.resolve(p.length) };
  assert.equal(directWriter(other), other);
});
