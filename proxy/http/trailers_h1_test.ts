/**
 * Trailers between HTTP/1.1 peers, on the wire: an upstream's chunked trailers reach a client
 * that sent `TE: trailers` (and no other), without the fields no trailer section may carry
 * (framing, routing, hop-by-hop). A client's request trailers never reach an HTTP/1.1 upstream
 * (framing_h1_test.ts).
 */
import assert from "node:assert/strict";
import { connect, proxyFor } from "../testing/proxy.ts";
import { rawUpstream } from "../testing/servers.ts";
import { latin1 } from "../testing/wire.ts";

const CHUNKED_WITH_TRAILERS = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n" +
  "trailer: x-checksum\r\n\r\n5\r\nhello\r\n0\r\nx-checksum: abc123\r\n" +
  "content-length: 99\r\nx-empty:\r\n\r\n";

/** Reads a response off the wire until its chunked body (and trailer section) ended. */
async function rawResponse(port: number, request: string): Promise<string> {
  using c = await connect(port);
  await c.send(request);
  let text = "";
  while (
    !/\r\n0\r\n(?:[^\r]*\r\n)*\r\n$/.test(text) && !/content-length: 5\r\n\r\nhello$/i.test(text)
  ) {
    const chunk = await c.reader.readUntil("\n");
    if (chunk === null) break;
    text += latin1(chunk);
  }
  return text;
}

Deno.test("an upstream's chunked trailers reach an HTTP/1.1 client that sent TE: trailers", async () => {
  await using up = rawUpstream((_req, conn) => conn.write(CHUNKED_WITH_TRAILERS));
  await using gw = await proxyFor([up.url]);
  const text = await rawResponse(
    gw.port("web"),
    "GET / HTTP/1.1\r\nhost: localhost\r\nte: trailers\r\n\r\n",
  );
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(text, /\r\ntransfer-encoding: chunked\r\n/i);
  // The trailer section as received, minus content-length (framing has no place there).
  assert.ok(text.endsWith("5\r\nhello\r\n0\r\nx-checksum: abc123\r\nx-empty: \r\n\r\n"), text);
  // TE is hop-by-hop: the upstream never saw the client's.
  assert.equal(up.requests[0].fields.find(([n]) => n.toLowerCase() === "te"), undefined);
});

Deno.test("without TE: trailers the client gets the body and no trailer section", async () => {
  await using up = rawUpstream((_req, conn) => conn.write(CHUNKED_WITH_TRAILERS));
  await using gw = await proxyFor([up.url]);
  const text = await rawResponse(gw.port("web"), "GET / HTTP/1.1\r\nhost: localhost\r\n\r\n");
  assert.ok(text.endsWith("5\r\nhello\r\n0\r\n\r\n"), text);
});
