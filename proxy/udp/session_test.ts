/**
 * The reused receive buffers (session.ts, listen/udp_listener.ts) cannot corrupt data: clients
 * at once send bursts of datagrams of many sizes (4 bytes to 65,507) and contents through
 * Gatehouse to an echo, each burst from a fresh socket (a new session, whose upstream socket is
 * not yet writable when the burst's next datagrams arrive), and every reply is checked byte for
 * byte against what its client sent. A datagram lost on loopback is sent again from the next
 * socket; a reply that is not exactly one of the client's datagrams fails the test. Also: a
 * server named by hostname, and one whose name does not resolve.
 */
import assert from "node:assert/strict";
import { lookup } from "node:dns/promises";
import { startProxy, yaml } from "../testing/proxy.ts";
import { waitFor } from "../testing/servers.ts";

const CLIENTS = 10;
const DATAGRAMS = 40;
/** Datagrams sent at once from one socket. */
const BURST = 8;
/** Bursts a client may need (datagrams lost on loopback are sent again). */
const MAX_BURSTS = 40;
const SMALL = [4, 5, 17, 63, 64, 65, 511, 512, 1200, 1472, 1473, 4096, 8999];
const LARGE = [65_507, 60_000, 32_768];

/** Client `c`'s datagram `seq`: its numbers first, then a pattern of both. */
function datagram(c: number, seq: number): Uint8Array {
  const size = seq % 10 === 9 ? LARGE[(c + seq) % LARGE.length] : SMALL[(c * 7 + seq) % 13];
  const data = new Uint8Array(size);
  for (let i = 4; i < size; i++) data[i] = (c * 31 + seq * 7 + i * 13) & 0xff;
  new DataView(data.buffer).setUint16(0, c);
  new DataView(data.buffer).setUint16(2, seq);
  return data;
}

/** A UDP echo on loopback, in this process. */
function udpEcho(hostname = "127.0.0.1"): Deno.DatagramConn {
  const socket = Deno.listenDatagram({ hostname, port: 0, transport: "udp" });
  (async () => {
    try {
      for (;;) {
        const [data, from] = await socket.receive();
        await socket.send(data, from);
      }
    } catch {
      // closed
    }
  })();
  return socket;
}

/** Replies on `socket` until `want` are in or none came for `ms`. */
async function collect(
  socket: Deno.DatagramConn,
  want: number,
  ms: number,
  onReply: (data: Uint8Array) => void,
): Promise<void> {
  for (let got = 0; got < want; got++) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const quiet = new Promise<null>((r) => timer = setTimeout(() => r(null), ms));
    const reply = await Promise.race([socket.receive().then(([d]) => d), quiet]);
    clearTimeout(timer);
    if (reply === null) return;
    onReply(reply);
  }
}

Deno.test("bursts of datagrams of many sizes from several clients come back byte for byte", async () => {
  const echo = udpEcho();
  await using gw = await startProxy(yaml`
    entrypoints:
      dgram: { address: "127.0.0.1:0", protocol: udp }
    udp_routes:
      - { entrypoints: [dgram], service: echo, timeouts: { idle: 2s } }
    services:
      echo: { servers: ["udp://127.0.0.1:${(echo.addr as Deno.NetAddr).port}"] }
  `);
  const target: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port: gw.port("dgram") };
  const corrupt: string[] = [];
  const run = async (c: number) => {
    const missing = new Set(Array.from({ length: DATAGRAMS }, (_, seq) => seq));
    for (let burst = 0; burst < MAX_BURSTS && missing.size > 0; burst++) {
      const socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
      try {
        const sent = [...missing].slice(0, BURST);
        for (const seq of sent) await socket.send(datagram(c, seq), target);
        await collect(socket, sent.length, 500, (reply) => {
          const view = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
          const seq = reply.length >= 4 ? view.getUint16(2) : -1;
          const from = reply.length >= 4 ? view.getUint16(0) : -1;
          if (from !== c || !sent.includes(seq) || !equal(reply, datagram(c, seq))) {
            corrupt.push(`client ${c} got ${reply.length} bytes claiming client ${from} #${seq}`);
          } else missing.delete(seq);
        });
      } finally {
        socket.close();
      }
    }
    return missing.size;
  };
  try {
    const missing = await Promise.all(Array.from({ length: CLIENTS }, (_, c) => run(c)));
    assert.deepEqual(corrupt, []);
    assert.deepEqual(missing, new Array(CLIENTS).fill(0), "every datagram echoed");
  } finally {
    echo.close();
  }
});

Deno.test("a server named by hostname (udp://localhost) is resolved for the session", async () => {
  const echo = udpEcho((await lookup("localhost")).address);
  await using gw = await startProxy(yaml`
    entrypoints:
      dgram: { address: "127.0.0.1:0", protocol: udp }
    udp_routes:
      - { entrypoints: [dgram], service: echo }
    services:
      echo: { servers: ["udp://localhost:${(echo.addr as Deno.NetAddr).port}"] }
  `);
  const target: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port: gw.port("dgram") };
  const socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  try {
    const replies: Uint8Array[] = [];
    for (let seq = 0; seq < 20; seq++) {
      await socket.send(datagram(0, seq), target);
      await collect(socket, 1, 3000, (reply) => replies.push(reply.slice()));
      if (replies.length === seq) break; // lost: fail now rather than wait for each
    }
    const checked = replies.map((r, seq) => equal(r, datagram(0, seq)) ? "same" : `${seq} differs`);
    assert.deepEqual(checked, new Array(20).fill("same"));
  } finally {
    socket.close();
    echo.close();
  }
});

Deno.test("a server name that does not resolve: the session ends unavailable, saying so", async () => {
  await using gw = await startProxy(yaml`
    entrypoints:
      dgram: { address: "127.0.0.1:0", protocol: udp }
    udp_routes:
      - { entrypoints: [dgram], service: nowhere }
    services:
      nowhere: { servers: ["udp://nonexistent.invalid:53"] }
  `);
  const socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  try {
    const target: Deno.NetAddr = {
      transport: "udp",
      hostname: "127.0.0.1",
      port: gw.port("dgram"),
    };
    await socket.send(datagram(0, 0), target);
    await waitFor(() => gw.udpRecords.length === 1, "the session to end");
    const [r] = gw.udpRecords;
    assert.equal(r.outcome, "unavailable");
    assert.match(r.error ?? "", /^Cannot resolve nonexistent\.invalid: /);
  } finally {
    socket.close();
  }
});

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
