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
import type { H2Request } from "./server.ts";
import { h2TestServer } from "../../testing/h2_server.ts";
import { rawH2Client } from "../../testing/h2_raw.ts";
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
