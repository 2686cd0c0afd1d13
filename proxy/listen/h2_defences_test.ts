/**
 * The HTTP/2 engine's defences hold on Gatehouse's real listener (h2c, with the pipeline and an
 * upstream behind it), not only on the engine's test server: each attack from a raw HTTP/2 peer
 * (proxy/testing/h2_frame_peer.ts), bounded in count and stopping by itself, gets its answer
 * (GOAWAY ENHANCE_YOUR_CALM for the floods; 431 for an HPACK bomb; REFUSED_STREAM beyond 100
 * streams; a stalled window holds the upstream back), the isolate's memory stays bounded, and a
 * request on another connection is served during and after it.
 */
import assert from "node:assert/strict";
import { ErrorCode } from "../proto/h2/errors.ts";
import { FrameType, type GoawayFrame, type RstStreamFrame } from "../proto/h2/frames.ts";
import { SettingId } from "../proto/h2/settings.ts";
import { bystander, type RawH2Client, rawH2Client } from "../testing/h2_frame_peer.ts";
import { isolateGrowth } from "../testing/memory.ts";
import { startProxy, yaml } from "../testing/proxy.ts";
import { httpUpstream, waitForSteady } from "../testing/servers.ts";

const MiB = 1024 * 1024;

function isCalm(f: { type: number }): boolean {
  return f.type === FrameType.GOAWAY && (f as GoawayFrame).code === ErrorCode.ENHANCE_YOUR_CALM;
}

/** Bytes the upstream's `/endless` responses were asked for, in all. */
let pulled = 0;

/**
 * An upstream: `/endless` streams bytes for as long as they are read, `/held` never answers
 * (until the request goes away), anything else is short.
 */
function upstream() {
  return httpUpstream((req, seen) => {
    if (req.url.endsWith("/held")) {
      const gone = Promise.withResolvers<Response>();
      seen.signal.addEventListener("abort", () => gone.resolve(new Response(null)));
      return gone.promise;
    }
    if (!req.url.endsWith("/endless")) return new Response("ok");
    const chunk = new Uint8Array(64 * 1024);
    return new Response(
      new ReadableStream({
        pull: (c) => {
          pulled += chunk.length;
          c.enqueue(chunk);
        },
      }, { highWaterMark: 0 }),
    );
  });
}

/**
 * Runs `attack` against Gatehouse with a bystander alongside; checks memory and, unless `calm`
 * is false (the attack checks its own answer), that the attacker got ENHANCE_YOUR_CALM.
 */
async function underAttack(
  attack: (port: number) => Promise<RawH2Client>,
  calm = true,
): Promise<void> {
  await using up = upstream();
  await using gw = await startProxy(yaml`
    entrypoints: { web: { address: "127.0.0.1:0" } }
    routes: [{ service: app }]
    services: { app: { servers: ["${up.url}"] } }
  `);
  const port = gw.port("web");
  await bystander(port);
  const { result: peer, growth } = await isolateGrowth(async () => {
    const [peer] = await Promise.all([attack(port), bystander(port)]);
    if (calm) await peer.waitFor(isCalm);
    await bystander(port);
    return peer;
  });
  await using _ = peer;
  assert.ok(growth < 48 * MiB, `memory grew by ${(growth / MiB).toFixed(1)} MiB during the attack`);
}

Deno.test("through Gatehouse: rapid reset -> ENHANCE_YOUR_CALM, others served", async () => {
  await underAttack(async (port) => {
    const peer = await rawH2Client(port);
    const block = peer.block([
      [":method", "GET"],
      [":scheme", "http"],
      [":authority", "a"],
      [":path", "/"],
    ]);
    for (let batch = 0; batch < 100 && !peer.closed && !peer.received.some(isCalm); batch++) {
      const frames = [];
      for (let i = 0; i < 50; i++) {
        const streamId = peer.nextStreamId();
        frames.push(
          { type: FrameType.HEADERS, streamId, endStream: true, endHeaders: true, block } as const,
          { type: FrameType.RST_STREAM, streamId, code: ErrorCode.CANCEL } as const,
        );
      }
      await peer.send(...frames);
    }
    return peer;
  });
});

Deno.test("through Gatehouse: malformed requests (made-you-reset) -> ENHANCE_YOUR_CALM", async () => {
  await underAttack(async (port) => {
    const peer = await rawH2Client(port);
    for (let i = 0; i < 40 && !peer.closed && !peer.received.some(isCalm); i++) {
      await peer.send(...Array.from({ length: 25 }, () => ({
        type: FrameType.HEADERS,
        streamId: peer.nextStreamId(),
        endStream: true,
        endHeaders: true,
        block: peer.block([[":method", "GET"], [":path", "/"], ["BAD", "x"]]),
      } as const)));
    }
    return peer;
  });
});

Deno.test("through Gatehouse: CONTINUATION flood -> ENHANCE_YOUR_CALM", async () => {
  await underAttack(async (port) => {
    const peer = await rawH2Client(port);
    const streamId = peer.nextStreamId();
    await peer.send({
      type: FrameType.HEADERS,
      streamId,
      endStream: true,
      endHeaders: false,
      block: peer.block([[":method", "GET"]]),
    });
    for (let i = 0; i < 1000 && !peer.closed && !peer.received.some(isCalm); i++) {
      await peer.send({
        type: FrameType.CONTINUATION,
        streamId,
        endHeaders: false,
        block: new Uint8Array(16384).fill(0x40),
      });
    }
    return peer;
  });
});

Deno.test("through Gatehouse: empty DATA flood on a request body -> ENHANCE_YOUR_CALM", async () => {
  await underAttack(async (port) => {
    const peer = await rawH2Client(port);
    const streamId = await peer.request("POST", "/", true);
    const empty = {
      type: FrameType.DATA,
      streamId,
      endStream: false,
      data: new Uint8Array(0),
      flowLength: 0,
    } as const;
    for (let i = 0; i < 100 && !peer.closed && !peer.received.some(isCalm); i++) {
      await peer.send(...Array(100).fill(empty));
    }
    return peer;
  });
});

Deno.test("through Gatehouse: 1-byte WINDOW_UPDATE flood on an endless response -> ENHANCE_YOUR_CALM", async () => {
  await underAttack(async (port) => {
    const peer = await rawH2Client(port, [[SettingId.INITIAL_WINDOW_SIZE, 0]]);
    const streamId = await peer.request("GET", "/endless");
    const update = { type: FrameType.WINDOW_UPDATE, streamId, increment: 1 } as const;
    for (let i = 0; i < 100 && !peer.closed && !peer.received.some(isCalm); i++) {
      await peer.send(...Array(100).fill(update));
    }
    return peer;
  });
});

for (
  const [kind, frame] of [
    ["SETTINGS", { type: FrameType.SETTINGS, ack: false, settings: [] }],
    ["PING", { type: FrameType.PING, ack: false, data: new Uint8Array(8) }],
  ] as const
) {
  Deno.test(`through Gatehouse: ${kind} flood -> ENHANCE_YOUR_CALM`, async () => {
    await underAttack(async (port) => {
      const peer = await rawH2Client(port);
      for (let i = 0; i < 100 && !peer.closed && !peer.received.some(isCalm); i++) {
        await peer.send(...Array(50).fill(frame));
      }
      return peer;
    });
  });
}

Deno.test("through Gatehouse: HPACK bomb -> 431 on the stream, the connection goes on", async () => {
  await underAttack(async (port) => {
    const peer = await rawH2Client(port);
    const head: [string, string][] = [
      [":method", "GET"],
      [":scheme", "http"],
      [":authority", "a"],
      [":path", "/"],
    ];
    const first = await peer.request("GET", "/", false, [["x-bomb", "b".repeat(4000)]]);
    await peer.waitFor((f) => f.type === FrameType.HEADERS && f.streamId === first);
    // The newest dynamic entry (index 62) is x-bomb: 16,000 one-byte references, 64 MB decoded.
    const start = peer.block(head);
    const bomb = new Uint8Array(start.length + 16_000).fill(0xbe);
    bomb.set(start);
    const second = peer.nextStreamId();
    await peer.send({
      type: FrameType.HEADERS,
      streamId: second,
      endStream: true,
      endHeaders: true,
      block: bomb,
    });
    await peer.waitFor((f) => f.type === FrameType.HEADERS && f.streamId === second);
    assert.deepEqual(peer.fields.get(second)?.[0][0], [":status", "431"]);
    const third = await peer.request("GET", "/");
    await peer.waitFor((f) => f.type === FrameType.HEADERS && f.streamId === third);
    assert.deepEqual(peer.fields.get(third)?.[0][0], [":status", "200"]);
    return peer;
  }, false);
});

Deno.test("through Gatehouse: streams beyond 100 at once are refused, held ones wait", async () => {
  await underAttack(async (port) => {
    const peer = await rawH2Client(port);
    for (let i = 0; i < 110; i++) await peer.request("GET", "/held");
    const refused = () =>
      peer.received.filter((f) =>
        f.type === FrameType.RST_STREAM && (f as RstStreamFrame).code === ErrorCode.REFUSED_STREAM
      );
    await peer.waitFor(() => refused().length === 10);
    assert.equal(peer.received.filter((f) => f.type === FrameType.HEADERS).length, 0);
    return peer;
  }, false);
});

Deno.test("through Gatehouse: a client that never opens its window holds the upstream back", async () => {
  pulled = 0;
  await underAttack(async (port) => {
    // Window 0 for every stream; the connection window is never given back either.
    const peer = await rawH2Client(port, [[SettingId.INITIAL_WINDOW_SIZE, 0]]);
    for (let i = 0; i < 4; i++) await peer.request("GET", "/endless");
    await peer.waitFor(() =>
      peer.received.filter((f) => f.type === FrameType.HEADERS).length === 4
    );
    // The upstream is read only until the socket buffers between it and Gatehouse are full.
    await waitForSteady(() => pulled, "the upstream to be held back");
    assert.ok(pulled < 64 * MiB, `the upstream was read for ${(pulled / MiB).toFixed(1)} MiB`);
    return peer;
  }, false);
});
