/**
 * Mutated HTTP/2 responses from an h2c upstream (seeded, reproducible): odd and connection-specific
 * fields, content-length against DATA, 1xx heads, trailers, REFUSED_STREAM and GOAWAY, stray and
 * misplaced frames, CONTINUATION splits, padding, and flipped or inserted bytes, to HTTP/1.1 and
 * HTTP/2 clients. Whatever the upstream sends, a client gets a well-framed answer (the upstream's,
 * made canonical, or Gatehouse's 502/503/504) or a connection closed in the middle of a body, never
 * a hang, and a later request gets its own answer. (A connection left stuck in the middle of a
 * frame, which only the next request's timeout can reveal, is h2_upstream_test.ts's case.)
 *
 * GATEHOUSE_FUZZ_CASES (default 320) and GATEHOUSE_FUZZ_SEED (default fixed) run more or other
 * cases; a failure names the seed, lane and case.
 */
import { FUZZ_SEED, fuzzCases } from "../testing/fuzz_lanes.ts";
import { latin1, latin1Bytes } from "../testing/wire.ts";
import { type Frame, FrameType, type UnknownFrame } from "../proto/h2/frames.ts";
import { below, mutate, pick, type Rng, seeded } from "../testing/mutate.ts";
import { fuzzResponses, twoRequestsH1, twoRequestsH2 } from "../testing/fuzz_client.ts";
import {
  frameBytes,
  type H2RawReply,
  type H2RawUpstream,
  h2RawUpstream,
} from "../testing/h2_raw_upstream.ts";

const CASES = fuzzCases(320);
const CASE_LIMIT_MS = 5000;

type Fields = [string, string][];
/** A response's parts: header blocks (the last one may be trailers) and DATA between them. */
type Part = { readonly fields: Fields; readonly end?: boolean } | { readonly data: string };

const SEEDS: readonly (readonly Part[])[] = [
  [{ fields: [[":status", "200"], ["content-length", "2"], ["x-a", "1"]] }, { data: "ok" }],
  [{ fields: [[":status", "200"]] }, { data: "o" }, { data: "k" }],
  [
    { fields: [[":status", "200"], ["content-type", "application/grpc"]] },
    { data: "ok" },
    { fields: [["grpc-status", "0"], ["grpc-message", "fine"]], end: true },
  ],
  [{ fields: [[":status", "204"]], end: true }],
  [{ fields: [[":status", "103"], ["link", "</a>"]] }, {
    fields: [[":status", "200"], ["content-length", "2"]],
  }, { data: "ok" }],
  [{ fields: [[":status", "200"], ["content-length", "3"]] }, { data: "ok" }],
  [{ fields: [[":status", "404"], ["set-cookie", "a=1"], ["set-cookie", "b=2"]] }, { data: "no" }],
];

const ODD_FIELDS: Fields = [
  ["connection", "close"],
  ["transfer-encoding", "chunked"],
  ["keep-alive", "1"],
  ["upgrade", "websocket"],
  ["Upper", "x"],
  [":path", "/"],
  [":status", "201"],
  [":status", "999"],
  ["content-length", "x"],
  ["content-length", "5"],
  ["te", "trailers"],
  ["x", "a\r\nb"],
  ["x", " lead"],
  ["x", "nul\0"],
  ["", "empty"],
];

const BYTE_WORDS: readonly string[] = ["\0", "\xff", "\x80", "\0\0\0\x04\x01\0\0\0\0"];

/** The frames of one mutated response on `id`, from `rng` (so a retry gets the same). */
function responseFrames(rng: Rng, id: number, reply: H2RawReply): (Frame | UnknownFrame)[] {
  const which = below(rng, SEEDS.length + 2);
  if (which === SEEDS.length) return [{ type: FrameType.RST_STREAM, streamId: id, code: 7 }];
  if (which === SEEDS.length + 1) {
    return [{ type: FrameType.GOAWAY, lastStreamId: 0, code: 0, debug: new Uint8Array(0) }];
  }
  const parts = SEEDS[which];
  const frames: (Frame | UnknownFrame)[] = [];
  parts.forEach((part, i) => {
    const last = i === parts.length - 1;
    if ("data" in part) {
      const data = new TextEncoder().encode(part.data);
      frames.push({
        type: FrameType.DATA,
        streamId: id,
        endStream: last,
        data,
        flowLength: data.length,
        ...(rng() < 0.1 ? { padLength: below(rng, 8) } : {}),
      });
      return;
    }
    const fields: Fields = part.fields.map(([n, v]) => [n, v]);
    if (rng() < 0.5) fields.splice(below(rng, fields.length + 1), 0, pick(rng, ODD_FIELDS));
    const block = reply.block(fields);
    const split = rng() < 0.2 ? below(rng, block.length + 1) : block.length;
    frames.push({
      type: FrameType.HEADERS,
      streamId: id,
      endStream: part.end === true || (last && !("data" in part)),
      endHeaders: split === block.length,
      block: block.slice(0, split),
    });
    if (split < block.length) {
      frames.push({
        type: FrameType.CONTINUATION,
        streamId: id,
        endHeaders: true,
        block: block.slice(split),
      });
    }
  });
  if (rng() < 0.3) frames.splice(below(rng, frames.length + 1), 0, stray(rng, id));
  return frames;
}

function stray(rng: Rng, id: number): Frame | UnknownFrame {
  switch (below(rng, 5)) {
    case 0:
      return { type: FrameType.WINDOW_UPDATE, streamId: pick(rng, [0, id]), increment: 1 };
    case 1:
      return { type: FrameType.SETTINGS, ack: false, settings: [[pick(rng, [1, 3, 4, 5]), 0]] };
    case 2:
      return { type: FrameType.RST_STREAM, streamId: id + 2, code: 8 };
    case 3: {
      const data = new Uint8Array(4);
      return {
        type: FrameType.DATA,
        streamId: pick(rng, [0, id + 2]),
        endStream: false,
        data,
        flowLength: 4,
      };
    }
    default:
      return { type: 0x21, unknown: true, flags: 0, streamId: id, payload: new Uint8Array(2) };
  }
}

interface Lane {
  readonly up: H2RawUpstream;
  /** The current case's seed for the mutated answer to `GET /m`. */
  caseSeed: number;
  /** Close the upstream connection after the mutated answer. */
  closeAfter: boolean;
  seq: number;
}

function lane(): Lane {
  const l: Lane = {
    caseSeed: 0,
    closeAfter: false,
    seq: 0,
    up: h2RawUpstream(async (req, reply) => {
      const path = req.fields.find(([n]) => n === ":path")?.[1];
      if (path === "/m") {
        const rng = seeded(l.caseSeed);
        let bytes = frameBytes(responseFrames(rng, req.streamId, reply));
        // Flipped bytes may leave the connection anywhere: mid-frame (the next request on it would
        // wait for bytes that never come) or with the HPACK tables out of step (the next answer's
        // fields would decode into others, undetectably). Such a connection ends with its answer.
        const flipped = rng() < 0.3;
        if (flipped) {
          bytes = latin1Bytes(mutate(rng, [latin1(bytes)], BYTE_WORDS));
        }
        await reply.send(bytes);
        if (l.closeAfter || flipped) reply.close();
        return;
      }
      const n = ++l.seq;
      await reply.send(frameBytes([
        {
          type: FrameType.HEADERS,
          streamId: req.streamId,
          endStream: false,
          endHeaders: true,
          block: reply.block([[":status", "200"], ["content-length", "2"], ["x-seq", String(n)]]),
        },
        {
          type: FrameType.DATA,
          streamId: req.streamId,
          endStream: true,
          data: new TextEncoder().encode("ok"),
          flowLength: 2,
        },
      ]));
    }),
  };
  return l;
}

async function runLane(port: number, l: Lane, rng: Rng, cases: number, name: string) {
  const failures: string[] = [];
  for (let k = 0; k < cases; k++) {
    l.caseSeed = Math.floor(rng() * 2 ** 32);
    l.closeAfter = rng() < 0.3;
    const client = rng();
    const seq = () => l.seq;
    const failure = client < 0.4
      ? await twoRequestsH2(port, seq, CASE_LIMIT_MS)
      : await twoRequestsH1(port, seq, client < 0.7, CASE_LIMIT_MS);
    if (failure !== null) {
      failures.push(
        `${name} case ${k} (seed ${FUZZ_SEED}, answer seed ${l.caseSeed}${
          l.closeAfter ? ", then closed" : ""
        }, ${client < 0.4 ? "HTTP/2" : "HTTP/1.1"} client): ${failure}`,
      );
    }
  }
  return failures;
}

Deno.test("mutated HTTP/2 upstream responses: clients get well-framed answers, later requests their own", async () => {
  await fuzzResponses(lane, CASES, (l, port, rng, n, name) => runLane(port, l, rng, n, name));
});
