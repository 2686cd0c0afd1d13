/**
 * Attacks on the engine's server side, one per defence, each from a raw HTTP/2 peer
 * (proxy/testing/h2_frame_peer.ts), bounded in count and stopping by itself: the server answers as the
 * defence says (GOAWAY ENHANCE_YOUR_CALM, REFUSED_STREAM, 431, a paused producer), counts it, the
 * isolate's memory stays bounded, and a request on another connection is served meanwhile.
 */
import assert from "node:assert/strict";
import type { BodyReader } from "../message.ts";
import { ErrorCode } from "./errors.ts";
import { FrameType, type GoawayFrame, type HeadersFrame, type RstStreamFrame } from "./frames.ts";
import type { H2ServerOptions } from "./server.ts";
import { SettingId } from "./settings.ts";
import { type H2TestServer, h2TestServer, routes } from "../../testing/h2_server.ts";
import { bystander, rawH2Client } from "../../testing/h2_frame_peer.ts";
import { isolateGrowth } from "../../testing/memory.ts";
import { waitFor } from "../../testing/servers.ts";

const MiB = 1024 * 1024;

/** A handler that holds each request until the client gives up (a proxy waiting upstream). */
function holding(req: Parameters<H2ServerOptions["onRequest"]>[0]): void {
  req.body?.cancel();
}

function isCalm(f: { type: number }): boolean {
  return f.type === FrameType.GOAWAY && (f as GoawayFrame).code === ErrorCode.ENHANCE_YOUR_CALM;
}

/**
 * Runs `attack` against a fresh h2c test server with a bystander alongside; checks memory. The
 * attack's requests go to `options.onRequest`, the bystander's to the built-in routes.
 */
async function underAttack(
  options: Parameters<typeof h2TestServer>[0],
  attack: (server: H2TestServer) => Promise<void>,
  maxGrowth = 32 * MiB,
): Promise<H2TestServer> {
  const custom = options?.onRequest;
  const server = await h2TestServer({
    tls: false,
    ...options,
    onRequest: (req) => (req.authority === "bystander" || !custom ? routes(req) : custom(req)),
  });
  try {
    const { growth } = await isolateGrowth(async () => {
      await Promise.all([attack(server), bystander(server.port)]);
      await bystander(server.port);
    });
    assert.ok(
      growth < maxGrowth,
      `memory grew by ${(growth / MiB).toFixed(1)} MiB during the attack`,
    );
  } finally {
    await server.close();
  }
  return server;
}

Deno.test("rapid reset (CVE-2023-44487): open and reset streams fast -> ENHANCE_YOUR_CALM", async () => {
  let seen = 0;
  const server = await underAttack({
    onRequest: (req) => {
      seen++;
      holding(req);
    },
  }, async (server) => {
    await using peer = await rawH2Client(server.port);
    const request = peer.block([[":method", "GET"], [":scheme", "http"], [":authority", "a"], [
      ":path",
      "/",
    ]]);
    for (let batch = 0; batch < 100 && !peer.closed && !peer.received.some(isCalm); batch++) {
      const frames = [];
      for (let i = 0; i < 50; i++) {
        const id = peer.nextStreamId();
        frames.push(
          {
            type: FrameType.HEADERS,
            streamId: id,
            endStream: true,
            endHeaders: true,
            block: request,
          } as const,
          { type: FrameType.RST_STREAM, streamId: id, code: ErrorCode.CANCEL } as const,
        );
      }
      await peer.send(...frames);
    }
    await peer.waitFor(isCalm);
  });
  assert.equal(server.stats.rapidReset, 1);
  // The budget is a burst of 200 and 50 a second: far fewer than the 5,000 sent reached a handler.
  assert.ok(seen <= 400, `${seen} requests reached the handler`);
});

Deno.test("made-you-reset: malformed requests count as resets -> ENHANCE_YOUR_CALM", async () => {
  const server = await underAttack({}, async (server) => {
    await using peer = await rawH2Client(server.port);
    for (let i = 0; i < 40 && !peer.closed; i++) {
      const frames = Array.from({ length: 25 }, () => ({
        type: FrameType.HEADERS,
        streamId: peer.nextStreamId(),
        endStream: true,
        endHeaders: true,
        block: peer.block([[":method", "GET"], [":path", "/"], ["BAD", "x"]]),
      } as const));
      await peer.send(...frames);
    }
    await peer.waitFor(isCalm);
  });
  assert.equal(server.stats.rapidReset, 1);
  assert.ok(server.stats.malformedMessages >= 200);
});

Deno.test("CONTINUATION flood: an endless header block -> ENHANCE_YOUR_CALM", async () => {
  for (const size of [16384, 0]) {
    const server = await underAttack({}, async (server) => {
      await using peer = await rawH2Client(server.port);
      const id = peer.nextStreamId();
      await peer.send({
        type: FrameType.HEADERS,
        streamId: id,
        endStream: true,
        endHeaders: false,
        block: peer.block([[":method", "GET"]]),
      });
      for (let i = 0; i < 1000 && !peer.closed && !peer.received.some(isCalm); i++) {
        await peer.send({
          type: FrameType.CONTINUATION,
          streamId: id,
          endHeaders: false,
          block: new Uint8Array(size).fill(0x40),
        });
      }
      await peer.waitFor(isCalm);
    });
    assert.equal(server.stats.continuationFlood, 1);
  }
});

Deno.test("HPACK bomb: a small block that decodes to 64 MB -> 431, the connection goes on", async () => {
  const server = await underAttack({}, async (server) => {
    await using peer = await rawH2Client(server.port);
    const authority: [string, string] = [":authority", `127.0.0.1:${server.port}`];
    const first = peer.nextStreamId();
    await peer.send({
      type: FrameType.HEADERS,
      streamId: first,
      endStream: true,
      endHeaders: true,
      block: peer.block([[":method", "GET"], [":scheme", "http"], authority, [":path", "/"], [
        "x-bomb",
        "b".repeat(4000),
      ]]),
    });
    await peer.waitFor((f) =>
      f.type === FrameType.HEADERS && (f as HeadersFrame).streamId === first
    );
    // The newest dynamic entry (index 62) is x-bomb: 16,000 one-byte references to it.
    const head = peer.block([[":method", "GET"], [":scheme", "http"], authority, [":path", "/"]]);
    const bomb = new Uint8Array(head.length + 16_000).fill(0xbe);
    bomb.set(head);
    const second = peer.nextStreamId();
    await peer.send({
      type: FrameType.HEADERS,
      streamId: second,
      endStream: true,
      endHeaders: true,
      block: bomb,
    });
    await peer.waitFor((f) =>
      f.type === FrameType.HEADERS && (f as HeadersFrame).streamId === second
    );
    assert.deepEqual(peer.fields.get(second)?.[0][0], [":status", "431"]);
    // The table stays in step: one more request on the same connection works.
    const third = await peer.request("GET", "/");
    await peer.waitFor((f) =>
      f.type === FrameType.HEADERS && (f as HeadersFrame).streamId === third
    );
  }, 16 * MiB);
  assert.equal(server.stats.headerListTooLarge, 1);
});

for (
  const [kind, counter, frame, answers] of [
    ["SETTINGS", "settingsFlood", { type: FrameType.SETTINGS, ack: false, settings: [] }, 60],
    ["PING", "pingFlood", { type: FrameType.PING, ack: false, data: new Uint8Array(8) }, 110],
    [
      "PRIORITY",
      "priorityFlood",
      {
        type: FrameType.PRIORITY,
        streamId: 1,
        priority: { dependency: 0, exclusive: false, weight: 16 },
      },
      0,
    ],
  ] as const
) {
  Deno.test(`${kind} flood -> ENHANCE_YOUR_CALM`, async () => {
    const server = await underAttack({}, async (server) => {
      await using peer = await rawH2Client(server.port);
      for (let i = 0; i < 200 && !peer.closed && !peer.received.some(isCalm); i++) {
        await peer.send(...Array(100).fill(frame));
      }
      await peer.waitFor(isCalm);
      // Frames past the budget were not answered.
      const acks = peer.received.filter((f) => f.type === frame.type).length;
      assert.ok(acks <= answers, `${acks} ${kind} answers`);
    });
    assert.equal(server.stats[counter], 1);
  });
}

Deno.test("empty DATA flood on an open stream -> ENHANCE_YOUR_CALM", async () => {
  const server = await underAttack({ onRequest: () => {} }, async (server) => {
    await using peer = await rawH2Client(server.port);
    const id = await peer.request("POST", "/", true);
    const empty = {
      type: FrameType.DATA,
      streamId: id,
      endStream: false,
      data: new Uint8Array(0),
      flowLength: 0,
    } as const;
    for (let i = 0; i < 100 && !peer.closed && !peer.received.some(isCalm); i++) {
      await peer.send(...Array(100).fill(empty));
    }
    await peer.waitFor(isCalm);
  });
  assert.equal(server.stats.emptyDataFlood, 1);
});

Deno.test("1-byte WINDOW_UPDATE flood -> ENHANCE_YOUR_CALM", async () => {
  const server = await underAttack({}, async (server) => {
    await using peer = await rawH2Client(server.port, [[SettingId.INITIAL_WINDOW_SIZE, 0]]);
    const id = await peer.request("GET", "/bytes/100000000");
    const update = { type: FrameType.WINDOW_UPDATE, streamId: id, increment: 1 } as const;
    for (let i = 0; i < 100 && !peer.closed && !peer.received.some(isCalm); i++) {
      await peer.send(...Array(100).fill(update));
    }
    await peer.waitFor(isCalm);
  });
  assert.equal(server.stats.windowUpdateFlood, 1);
});

Deno.test("a client that never opens its window: the producer pauses, memory stays flat", async () => {
  let pulled = 0;
  const endless: BodyReader = {
    length: -1,
    read: () => {
      pulled++;
      return Promise.resolve(new Uint8Array(64 * 1024));
    },
    cancel: () => {},
  };
  const server = await underAttack({
    onRequest: (req) => void req.respond({ status: 200, body: endless }).catch(() => {}),
  }, async (server) => {
    // Window 0 for streams; the connection window (65,535) is never given back either.
    await using peer = await rawH2Client(server.port, [[SettingId.INITIAL_WINDOW_SIZE, 0]]);
    const streams = [];
    for (let i = 0; i < 50; i++) streams.push(await peer.request("GET", `/stalled/${i}`));
    await waitFor(() => server.stats.flowControlStalls >= 50, "every stream to stall");
    // Each stalled stream pulled one chunk and waits: nothing more is read or queued.
    assert.ok(pulled <= 2 * streams.length, `${pulled} chunks pulled by ${streams.length} streams`);
    const stalls = server.stats.flowControlStalls;
    await bystander(server.port);
    assert.ok(pulled <= 2 * streams.length);
    assert.equal(server.stats.flowControlStalls, stalls);
  }, 16 * MiB);
  assert.ok(server.stats.flowControlStalls >= 50);
});

Deno.test("streams beyond SETTINGS_MAX_CONCURRENT_STREAMS are refused", async () => {
  const server = await underAttack(
    { engine: { maxConcurrentStreams: 10 }, onRequest: holding },
    async (server) => {
      await using peer = await rawH2Client(server.port);
      for (let i = 0; i < 30; i++) await peer.request("GET", `/held/${i}`);
      await waitFor(
        () => peer.received.filter((f) => f.type === FrameType.RST_STREAM).length === 20,
        "20 refused streams",
      );
      const codes = peer.received.filter((f) => f.type === FrameType.RST_STREAM)
        .map((f) => (f as RstStreamFrame).code);
      assert.deepEqual(new Set(codes), new Set([ErrorCode.REFUSED_STREAM]));
    },
  );
  assert.equal(server.stats.refusedStreams, 20);
});

Deno.test("a peer that never reads what it asks for: the backlog limit closes it", async () => {
  const server = await underAttack({
    engine: { budgets: { pings: { burst: 1e9, perSecond: 1e9 } } },
  }, async (server) => {
    await using peer = await rawH2Client(server.port, [], { read: false });
    const ping = { type: FrameType.PING, ack: false, data: new Uint8Array(8) } as const;
    for (let i = 0; i < 2000 && !peer.closed; i++) {
      await peer.send(...Array(500).fill(ping));
      if (server.stats.writeBacklog > 0) break;
    }
    await waitFor(() => server.stats.writeBacklog === 1, "the backlog limit");
  });
  assert.equal(server.stats.writeBacklog, 1);
});

Deno.test("header list over the limit: 431 and the connection goes on", async () => {
  await using server = await h2TestServer({ tls: false, engine: { maxHeaderListSize: 4096 } });
  await using peer = await rawH2Client(server.port);
  const big = await peer.request("GET", "/", false, [["x-big", "y".repeat(5000)]]);
  await peer.waitFor((f) => f.type === FrameType.HEADERS && (f as HeadersFrame).streamId === big);
  const ok = await peer.request("GET", "/");
  await peer.waitFor((f) => f.type === FrameType.HEADERS && (f as HeadersFrame).streamId === ok);
  assert.deepEqual(peer.fields.get(big)?.[0][0], [":status", "431"]);
  assert.deepEqual(peer.fields.get(ok)?.[0][0], [":status", "200"]);
  assert.equal(server.stats.headerListTooLarge, 1);
});
