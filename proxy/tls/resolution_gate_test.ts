import assert from "node:assert/strict";
import { testPki } from "../testing/certs.ts";
import { waitFor } from "../testing/servers.ts";
import { ResolutionGate } from "./resolution_gate.ts";

const pki = await testPki();
const { certPem, keyPem } = await pki.leaf("localhost");

/**
 * A TLS listener whose accepted connections wait in their handshake until the test lets the
 * client side start it (`complete`), as on a real listener during a burst.
 */
function pendingHandshakes() {
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: certPem, key: keyPem });
  const open: Deno.Conn[] = [];
  return {
    /**
     * Connects a client that does not start its handshake yet; returns the server side, and
     * ways to complete the handshake or abandon it (the client goes away).
     */
    async accept(): Promise<
      { conn: Deno.TlsConn; complete: () => Promise<void>; abandon: () => void }
    > {
      const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
      const conn = await listener.accept();
      open.push(conn);
      const complete = async () => {
        const tls = await Deno.startTls(tcp, { hostname: "localhost", caCerts: [pki.caPem] });
        open.push(tls);
        await tls.handshake();
      };
      return { conn, complete, abandon: () => tcp.close() };
    },
    [Symbol.dispose]() {
      for (const conn of open) conn.close();
      listener.close();
    },
  };
}

/**
 * Waits until the server side of `conn` finished its handshake and the gate's own wait for it
 * has run (a separate promise: one more turn of the event loop), well before the gate's
 * fallback resume (250 ms).
 */
async function handshakeSeen(conn: Deno.TlsConn): Promise<void> {
  await conn.handshake();
  await new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("gate: a new listener accepts its first connection alone, until its handshake ends", async () => {
  using server = pendingHandshakes();
  const gate = new ResolutionGate();
  const first = await server.accept();
  gate.watch(first.conn);
  assert.notEqual(gate.paused, null, "the first name is resolved with nothing else in flight");
  await first.complete();
  await handshakeSeen(first.conn);
  assert.equal(gate.paused, null, "resumed by the handshake, not by the fallback timer");
  const second = await server.accept();
  gate.watch(second.conn);
  assert.equal(gate.paused, null, "only the first connection is accepted alone");
  await second.complete();
});

Deno.test("gate: a first handshake that fails resumes accepting too", async () => {
  using server = pendingHandshakes();
  const gate = new ResolutionGate();
  const first = await server.accept();
  gate.watch(first.conn);
  assert.notEqual(gate.paused, null);
  first.abandon();
  await first.conn.handshake().catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(gate.paused, null, "resumed by the failure, not by the fallback timer");
});

Deno.test("gate: a lone first answer goes out at once; accepting waits for a handshake", async () => {
  using server = pendingHandshakes();
  const gate = new ResolutionGate();
  const first = await server.accept();
  gate.watch(first.conn);
  assert.equal(gate.answer("pair"), "pair", "not held: no other handshake to wait for");
  assert.notEqual(gate.paused, null, "accepting pauses until the answer is in Deno's cache");
  await first.complete();
  await handshakeSeen(first.conn);
  assert.equal(gate.paused, null, "resumed by the handshake, not by the fallback timer");
});

Deno.test("gate: with other handshakes under way the first answer is held for them", async () => {
  using server = pendingHandshakes();
  const gate = new ResolutionGate();
  const conns = [await server.accept(), await server.accept()];
  for (const { conn } of conns) gate.watch(conn);
  const held = gate.answer("pair");
  assert.ok(held instanceof Promise, "held so that the others reach the resolver meanwhile");
  assert.equal(await held, "pair");
  assert.notEqual(gate.paused, null);
  await conns[0].complete();
  await handshakeSeen(conns[0].conn);
  assert.equal(gate.paused, null, "resumed by the handshake, not by the fallback timer");
});

Deno.test("gate: accepting resumes by itself when no handshake completes", async () => {
  const gate = new ResolutionGate();
  gate.answer("pair");
  assert.notEqual(gate.paused, null);
  await waitFor(() => gate.paused === null, "the fallback resume");
});

Deno.test("gate: only the first 100 names of a listener are gated", () => {
  const gate = new ResolutionGate();
  for (let i = 0; i < 100; i++) {
    gate.answer(i);
    gate.resume();
  }
  assert.equal(gate.answer("101st"), "101st");
  assert.equal(gate.paused, null, "made-up names cannot stall the accept loop");
});
