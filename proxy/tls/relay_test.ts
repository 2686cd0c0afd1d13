import assert from "node:assert/strict";
import { readBytes, readToEnd, text, writeAll } from "../testing/tcp_peers.ts";
import { TlsRelay } from "./relay.ts";

/** A connected pair of TCP connections on loopback. */
async function pair(): Promise<[Deno.TcpConn, Deno.TcpConn]> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const a = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const b = await accepted;
  listener.close();
  return [a, b];
}

Deno.test("a relayed connection is claimed with its context; the first bytes come first", async () => {
  const internal = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const relay = new TlsRelay<{ id: number }>();
  const [far, near] = await pair();
  let claimed = 0;
  const done = relay.relay(near, {
    port: internal.addr.port,
    first: new TextEncoder().encode("first|"),
    context: { id: 7 },
    onClaim: () => claimed++,
  });
  const inner = await internal.accept();
  const link = await relay.claim(inner);
  assert.equal(link?.context.id, 7);
  assert.equal(claimed, 1);
  await writeAll(far, "then the client");
  await far.closeWrite();
  assert.equal(text(await readToEnd(inner)), "first|then the client");
  await writeAll(inner, "answer");
  await inner.closeWrite();
  assert.equal(text(await readToEnd(far)), "answer");
  assert.equal(await done, true);
  inner.close();
  far.close();
  internal.close();
});

Deno.test("a connection the relay did not open is not claimed, even with relays waiting", async () => {
  const internal = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const relay = new TlsRelay<{ id: number }>();
  const [far, near] = await pair();
  const done = relay.relay(near, {
    port: internal.addr.port,
    first: new Uint8Array(0),
    context: { id: 1 },
  });
  const relayed = await internal.accept();
  const intruder = await Deno.connect({ hostname: "127.0.0.1", port: internal.addr.port });
  const inner = await internal.accept();
  assert.equal(await relay.claim(inner, 50), undefined);
  assert.equal((await relay.claim(relayed))?.context.id, 1);
  for (const c of [inner, intruder, relayed, far]) c.close();
  await done;
  internal.close();
});

Deno.test("endWithInner: when the inner side ends, the client is closed after the grace", async () => {
  const internal = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const relay = new TlsRelay<null>();
  const [far, near] = await pair();
  const done = relay.relay(near, {
    port: internal.addr.port,
    first: new Uint8Array(0),
    context: null,
    endWithInner: { graceMs: 50 },
  });
  const inner = await internal.accept();
  await relay.claim(inner);
  await writeAll(inner, "bye");
  inner.close();
  // The client never ends its side, yet the relay ends and the client is closed.
  assert.equal(text(await readBytes(far, 3)), "bye");
  assert.equal((await readToEnd(far)).length, 0);
  assert.equal(await done, true);
  far.close();
  internal.close();
});
