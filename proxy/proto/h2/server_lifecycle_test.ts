/**
 * The server's stream and connection lifecycle, seen from a raw peer: graceful shutdown in two
 * GOAWAY steps with open streams finishing, the hard close, abort signals on client reset and
 * connection loss, the open-stream count hook, informational responses and HEAD.
 */
import assert from "node:assert/strict";
import { ErrorCode } from "./errors.ts";
import {
  FrameType,
  type GoawayFrame,
  type HeadersFrame,
  MAX_WINDOW,
  type PingFrame,
} from "./frames.ts";
import type { BodyReader } from "../message.ts";
import { connectH2 } from "./client.ts";
import { createH2Stats } from "./guard.ts";
import type { H2Request } from "./server.ts";
import { h2TestServer } from "../../testing/h2_server.ts";
import { rawH2Client } from "../../testing/h2_frame_peer.ts";
import { waitFor } from "../../testing/servers.ts";

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("graceful shutdown: GOAWAY(2^31-1) and PING, then GOAWAY(last id); open streams finish", async () => {
  const held: H2Request[] = [];
  await using server = await h2TestServer({ tls: false, onRequest: (req) => void held.push(req) });
  await using peer = await rawH2Client(server.port);
  const first = await peer.request("GET", "/held");
  await waitFor(() => held.length === 1, "the request");
  const [conn] = server.connections;
  const done = conn.shutdown();
  const ping = await peer.waitFor((f) => f.type === FrameType.PING && !("unknown" in f) && !f.ack);
  // The answer to the PING tells the server every request sent before its GOAWAY has arrived.
  await peer.send({ ...(ping as PingFrame), ack: true });
  const goaways = () => peer.received.filter((f) => f.type === FrameType.GOAWAY) as GoawayFrame[];
  await waitFor(() => goaways().length === 2, "the second GOAWAY");
  assert.deepEqual(goaways().map((g) => [g.lastStreamId, g.code]), [
    [MAX_WINDOW, ErrorCode.NO_ERROR],
    [first, ErrorCode.NO_ERROR],
  ]);
  // A stream opened after the final GOAWAY is refused; the open one completes.
  const late = await peer.request("GET", "/late");
  await peer.waitFor((f) =>
    f.type === FrameType.RST_STREAM && "streamId" in f && f.streamId === late
  );
  assert.equal(conn.closing, false);
  await held[0].respond({ status: 200, body: text("finished") });
  await done;
  await waitFor(() => peer.closed, "the connection to close");
  assert.deepEqual(peer.fields.get(first)?.[0][0], [":status", "200"]);
  assert.equal(held.length, 1);
});

Deno.test("hard close: open streams fail, their signals abort, GOAWAY carries the code", async () => {
  const held: H2Request[] = [];
  await using server = await h2TestServer({ tls: false, onRequest: (req) => void held.push(req) });
  await using peer = await rawH2Client(server.port);
  await peer.request("POST", "/held", true);
  await waitFor(() => held.length === 1, "the request");
  const req = held[0];
  const reading = req.body!.read();
  const [conn] = server.connections;
  conn.close(ErrorCode.NO_ERROR, "deadline");
  assert.equal(req.signal.aborted, true);
  await assert.rejects(reading, /connection was closed/);
  await assert.rejects(req.respond({ status: 200 }), /connection was closed/);
  const goaway = await peer.waitFor((f) => f.type === FrameType.GOAWAY) as GoawayFrame;
  assert.equal(new TextDecoder().decode(goaway.debug), "deadline");
  await conn.closed;
});

Deno.test("abort signal: a client reset and a lost connection abort the request", async () => {
  const held: H2Request[] = [];
  await using server = await h2TestServer({ tls: false, onRequest: (req) => void held.push(req) });
  await using peer = await rawH2Client(server.port);
  const id = await peer.request("GET", "/one");
  await peer.request("GET", "/two");
  await waitFor(() => held.length === 2, "both requests");
  const reasons: unknown[] = [];
  for (const r of held) r.signal.addEventListener("abort", () => reasons.push(r.signal.reason));
  await peer.send({ type: FrameType.RST_STREAM, streamId: id, code: ErrorCode.CANCEL });
  await waitFor(() => reasons.length === 1, "the reset to abort the first");
  assert.match(String(reasons[0]), /reset by peer with CANCEL/);
  peer.close();
  await waitFor(() => reasons.length === 2, "the lost connection to abort the second");
  assert.match(String(reasons[1]), /connection closed/);
});

Deno.test("onStreamCount follows open streams; 103 and HEAD behave", async () => {
  const counts: number[] = [];
  await using server = await h2TestServer({
    tls: false,
    engine: { onStreamCount: (n) => counts.push(n) },
    onRequest(req) {
      if (req.path === "/early") req.informational(103, null);
      void req.respond({ status: 200, body: text("body"), headers: undefined }).catch(() => {});
    },
  });
  await using peer = await rawH2Client(server.port);
  const early = await peer.request("GET", "/early");
  const head = await peer.request("HEAD", "/");
  await waitFor(() => (peer.fields.get(head)?.length ?? 0) === 1, "the HEAD response");
  await waitFor(() => (peer.fields.get(early)?.length ?? 0) === 2, "both heads of /early");
  assert.deepEqual(peer.fields.get(early)!.map((f) => f[0]), [[":status", "103"], [
    ":status",
    "200",
  ]]);
  // HEAD: the response head carries END_STREAM and no DATA follows.
  const headFrame = peer.received.find((f) =>
    f.type === FrameType.HEADERS && (f as HeadersFrame).streamId === head
  ) as HeadersFrame;
  assert.equal(headFrame.endStream, true);
  assert.equal(
    peer.received.some((f) => f.type === FrameType.DATA && "streamId" in f && f.streamId === head),
    false,
  );
  await waitFor(() => counts.at(-1) === 0, "the streams to close");
  assert.ok(Math.max(...counts) >= 1);
});

Deno.test("204 and 304 carry no DATA even when the handler gives a body", async () => {
  await using server = await h2TestServer({
    tls: false,
    onRequest(req) {
      void req.respond({ status: Number(req.path.slice(1)), body: text("dropped") }).catch(
        () => {},
      );
    },
  });
  await using peer = await rawH2Client(server.port);
  const ids = [await peer.request("GET", "/204"), await peer.request("GET", "/304")];
  for (const id of ids) {
    const head = await peer.waitFor((f) =>
      f.type === FrameType.HEADERS && (f as HeadersFrame).streamId === id
    ) as HeadersFrame;
    assert.equal(head.endStream, true);
  }
  assert.equal(peer.received.some((f) => f.type === FrameType.DATA), false);
});

Deno.test("a handler that does not read holds the client to one stream window", async () => {
  const held: H2Request[] = [];
  const window = 64 * 1024;
  await using server = await h2TestServer({
    tls: false,
    engine: { initialWindowSize: window },
    onRequest: (req) => void held.push(req),
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const stats = createH2Stats();
  const client = connectH2(conn, { stats });
  let produced = 0;
  const endless: BodyReader = {
    length: -1,
    read: () => {
      produced += 16 * 1024;
      return Promise.resolve(new Uint8Array(16 * 1024));
    },
    cancel: () => {},
  };
  void client.request({ method: "POST", scheme: "http", authority: "x", path: "/", body: endless })
    .catch(() => {});
  await waitFor(() => held.length === 1 && stats.flowControlStalls > 0, "the client to stall");
  const inbound = held[0].inbound!;
  assert.equal(inbound.buffered, window);
  assert.ok(produced <= window + 32 * 1024, `the client produced ${produced} bytes`);
  // Reading gives the window back and the upload moves on.
  for (let i = 0; i < 8; i++) await held[0].body!.read();
  await waitFor(() => produced > window + 64 * 1024, "the upload to resume");
  client.close();
  await client.closed;
});

Deno.test("a handler that throws resets its stream; the connection serves on", async () => {
  await using server = await h2TestServer({
    tls: false,
    onRequest(req) {
      if (req.path === "/throw") throw new Error("handler bug");
      void req.respond({ status: 200, body: text("fine") }).catch(() => {});
    },
  });
  await using peer = await rawH2Client(server.port);
  const bad = await peer.request("GET", "/throw");
  const good = await peer.request("GET", "/");
  const reset = await peer.waitFor((f) =>
    f.type === FrameType.RST_STREAM && "streamId" in f && f.streamId === bad
  );
  assert.equal((reset as { code: number }).code, ErrorCode.INTERNAL_ERROR);
  await peer.waitFor((f) => f.type === FrameType.HEADERS && (f as HeadersFrame).streamId === good);
  assert.deepEqual(peer.fields.get(good)?.[0][0], [":status", "200"]);
});

Deno.test("onStreamCount: an answered stream the client has not ended awaits the peer", async () => {
  const counts: [number, number][] = [];
  await using server = await h2TestServer({
    tls: false,
    engine: { onStreamCount: (open, awaiting) => counts.push([open, awaiting]) },
    onRequest: (req) => void req.respond({ status: 200, body: text("ok") }).catch(() => {}),
  });
  await using peer = await rawH2Client(server.port);
  const id = await peer.request("POST", "/", true);
  await waitFor(() => counts.some(([, awaiting]) => awaiting === 1), "the answer");
  assert.deepEqual(counts.at(-1), [1, 1]);
  await peer.send({
    type: FrameType.DATA,
    streamId: id,
    endStream: true,
    data: text(""),
    flowLength: 0,
  });
  await waitFor(() => counts.at(-1)?.[0] === 0, "the stream to close");
  assert.deepEqual(counts.at(-1), [0, 0]);
});

Deno.test("a stream window below 65,535 applies to streams opened before the SETTINGS ACK", async () => {
  const held: H2Request[] = [];
  await using server = await h2TestServer({
    tls: false,
    engine: { initialWindowSize: 16_384 },
    onRequest: (req) => void held.push(req),
  });
  // The raw peer never acknowledges the server's SETTINGS on its own.
  await using peer = await rawH2Client(server.port);
  const id = await peer.request("POST", "/", true);
  const chunk = new Uint8Array(10_000);
  // Until the ACK the client may assume 65,535: 20,000 bytes are within the window.
  await peer.send(
    { type: FrameType.DATA, streamId: id, endStream: false, data: chunk, flowLength: 10_000 },
    { type: FrameType.DATA, streamId: id, endStream: false, data: chunk, flowLength: 10_000 },
  );
  await waitFor(() => held.length === 1 && held[0].inbound?.buffered === 20_000, "the data");
  // With the ACK the window is 16,384, of which 20,000 are used: one more byte is too many.
  await peer.send({ type: FrameType.SETTINGS, ack: true, settings: [] });
  await peer.send({
    type: FrameType.DATA,
    streamId: id,
    endStream: false,
    data: text("x"),
    flowLength: 1,
  });
  const reset = await peer.waitFor((f) => f.type === FrameType.RST_STREAM && f.streamId === id);
  assert.equal((reset as { code: number }).code, ErrorCode.FLOW_CONTROL_ERROR);
});
