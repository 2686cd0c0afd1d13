/**
 * Mutated HTTP/2 connections against the whole proxy over h2c (seeded, reproducible): odd and
 * malformed header fields, CONTINUATION splits, padding, bodies against content-length, stray
 * control frames, and flipped or inserted bytes. Whatever a client sends, an upstream only ever
 * receives canonical requests, every answer a client gets is an upstream's answer of this case or
 * one of Gatehouse's own refusals, nothing is answered 5xx, every connection ends, and a client
 * on another connection is still served afterwards.
 *
 * GATEHOUSE_FUZZ_CASES (default 320) and GATEHOUSE_FUZZ_SEED (default fixed) run more or other
 * cases; a failure names the seed, lane and case, which reproduce it.
 */
import assert from "node:assert/strict";
import { latin1, latin1Bytes } from "../testing/wire.ts";
import { FUZZ_LANES, FUZZ_SEED, fuzzCases, laneProxy, runLanes } from "../testing/fuzz_lanes.ts";
import { bystander, type RawH2Client, rawH2Client } from "../testing/h2_frame_peer.ts";
import { type Frame, FrameType, type UnknownFrame } from "../proto/h2/frames.ts";
import { encodeFrame } from "../proto/h2/frames.ts";
import { concatBytes } from "../bytes.ts";
import { below, mutate, pick, type Rng } from "../testing/mutate.ts";
import { type FuzzLane, fuzzLane } from "../testing/fuzz_upstream.ts";
import { waitFor } from "../testing/servers.ts";

const CASES = fuzzCases(320);
const CASE_LIMIT_MS = 5000;

type Fields = [string, string][];
interface Seed {
  readonly fields: Fields;
  readonly data: readonly string[];
  readonly trailers?: Fields;
}

const pseudo = (method: string, path: string): Fields => [
  [":method", method],
  [":scheme", "http"],
  [":authority", "a.test"],
  [":path", path],
];
const SEEDS: readonly Seed[] = [
  { fields: [...pseudo("GET", "/"), ["x-request-id", "t"]], data: [] },
  { fields: [...pseudo("POST", "/p"), ["content-length", "5"]], data: ["hello"] },
  { fields: pseudo("POST", "/p"), data: ["hel", "lo"] },
  {
    fields: [...pseudo("POST", "/p"), ["te", "trailers"]],
    data: ["hello"],
    trailers: [["x-t", "1"]],
  },
  { fields: [...pseudo("GET", "/c"), ["cookie", "a=1"], ["cookie", "b=2"]], data: [] },
  { fields: pseudo("OPTIONS", "*"), data: [] },
  {
    fields: [
      [":method", "CONNECT"],
      [":protocol", "websocket"],
      [":scheme", "http"],
      [":authority", "a.test"],
      [":path", "/ws"],
      ["sec-websocket-version", "13"],
    ],
    data: [],
  },
];

const ODD_FIELDS: Fields = [
  ["connection", "close"],
  ["te", "gzip"],
  ["Host", "b.test"],
  ["host", "b.test"],
  ["host", "a.test"],
  [":path", ""],
  [":path", "/x"],
  [":path", "x"],
  [":method", "CONNECT"],
  [":status", "200"],
  [":authority", "a.test@evil"],
  [":scheme", "ftp"],
  ["content-length", "6"],
  ["content-length", "5, 5"],
  ["content-length", "-1"],
  ["transfer-encoding", "chunked"],
  ["upgrade", "h2c"],
  ["keep-alive", "5"],
  ["x", "a\r\nb"],
  ["x", " lead"],
  ["x", "nul\0"],
  ["x\0", "v"],
  ["x y", "v"],
  ["x_y", "1"],
  ["", "empty"],
  ["x", "\xff\xa0"],
  ["cookie", "c=3"],
  ["expect", "100-continue"],
];

/** Paths that replace a seed's own: fragments, escapes, dot segments, slashes. */
const ODD_PATHS: readonly string[] = [
  "/a#b",
  "/a%2fb",
  "/a%252F",
  "/a%5C..%5Cb",
  "/a%zz",
  "/a%4?x",
  "/a/..;/b",
  "/a/%2e%2e;/b",
  "//a//b",
  "/a;x=1",
  "/a?next=%2F%23",
  "/%61",
  "/a\\..\\b",
  "/a?b=\\",
];

/** Pieces that break a path rule (target_rules.ts), inserted into seeds' paths. */
const PATH_PIECES: readonly string[] = ["\\", "/..;/", "%2f", "%25", "%zz", "#", "%00", "//"];

const BYTE_WORDS: readonly string[] = [
  "\0",
  "\xff",
  "\x80",
  "\0\0\0\x04\0\0\0\0\0",
  "\0\0\x08\x06\0\0\0\0\0",
  "\0\0\0\0\x01\0\0\0\x01",
];

/** The frames of one case's requests, and stray frames among them. */
function framesFor(
  rng: Rng,
  peer: RawH2Client,
  said: string[],
): (Frame | UnknownFrame)[] {
  const frames: (Frame | UnknownFrame)[] = [];
  const requests = 1 + below(rng, 3);
  for (let r = 0; r < requests; r++) {
    const seed = pick(rng, SEEDS);
    const fields: Fields = seed.fields.map(([n, v]) => [n, v]);
    const path = fields.findIndex(([n]) => n === ":path");
    const roll = path >= 0 ? rng() : 1;
    if (roll < 0.2) fields[path] = [":path", pick(rng, ODD_PATHS)];
    else if (roll < 0.36) {
      // A piece of an odd path inside a seed's path, where the path rules must find it.
      const p = fields[path][1];
      const at = 1 + below(rng, p.length);
      fields[path] = [":path", p.slice(0, at) + pick(rng, PATH_PIECES) + p.slice(at)];
    }
    for (let m = below(rng, 3); m > 0; m--) {
      const odd = pick(rng, ODD_FIELDS);
      if (rng() < 0.5) fields.push([odd[0], odd[1]]);
      else fields.splice(below(rng, fields.length + 1), 0, [odd[0], odd[1]]);
    }
    const id = rng() < 0.9 ? peer.nextStreamId() : pick(rng, [0, 1, 2, 3, 0x7fffffff]);
    const data = seed.data.map((d) => new TextEncoder().encode(d));
    if (rng() < 0.15) data.push(new TextEncoder().encode("extra"));
    const open = rng() < 0.1;
    said.push(JSON.stringify(fields));
    const block = peer.block(fields);
    const split = rng() < 0.2 ? below(rng, block.length + 1) : block.length;
    const endsWithHeaders = data.length === 0 && seed.trailers === undefined;
    frames.push({
      type: FrameType.HEADERS,
      streamId: id,
      endStream: endsWithHeaders && !open,
      endHeaders: split === block.length,
      block: block.slice(0, split),
      ...(rng() < 0.1 ? { padLength: below(rng, 8) } : {}),
    });
    if (split < block.length) {
      if (rng() < 0.2) frames.push(stray(rng, id));
      frames.push({
        type: FrameType.CONTINUATION,
        streamId: id,
        endHeaders: true,
        block: block.slice(split),
      });
    }
    data.forEach((chunk, i) => {
      const last = i === data.length - 1 && seed.trailers === undefined;
      frames.push({
        type: FrameType.DATA,
        streamId: id,
        endStream: last && !open,
        data: chunk,
        flowLength: chunk.length,
        ...(rng() < 0.1 ? { padLength: below(rng, 8) } : {}),
      });
    });
    if (seed.trailers !== undefined) {
      const trailers: Fields = rng() < 0.2
        ? [...seed.trailers, pick(rng, ODD_FIELDS)]
        : seed.trailers;
      frames.push({
        type: FrameType.HEADERS,
        streamId: id,
        endStream: !open,
        endHeaders: true,
        block: peer.block(trailers),
      });
    }
    for (let s = below(rng, 3); s > 0; s--) {
      frames.splice(below(rng, frames.length + 1), 0, stray(rng, id));
    }
  }
  return frames;
}

/** A control frame, on `id` or the connection, possibly out of place. */
function stray(rng: Rng, id: number): Frame | UnknownFrame {
  switch (below(rng, 7)) {
    case 0:
      return { type: FrameType.RST_STREAM, streamId: id, code: pick(rng, [0, 1, 8]) };
    case 1:
      return {
        type: FrameType.WINDOW_UPDATE,
        streamId: pick(rng, [0, id]),
        increment: pick(rng, [0, 1, 65_535, 0x7fffffff]),
      };
    case 2:
      return { type: FrameType.PING, ack: rng() < 0.2, data: new Uint8Array(8) };
    case 3:
      return {
        type: FrameType.SETTINGS,
        ack: rng() < 0.1,
        settings: [[pick(rng, [1, 2, 3, 4, 5, 6, 8, 99]), pick(rng, [0, 1, 16_384, 2 ** 31])]],
      };
    case 4:
      return {
        type: FrameType.PRIORITY,
        streamId: id,
        priority: { exclusive: false, dependency: pick(rng, [0, id]), weight: 16 },
      };
    case 5:
      return { type: 0x20, unknown: true, flags: 0xff, streamId: id, payload: new Uint8Array(3) };
    default:
      return { type: FrameType.RST_STREAM, streamId: id, code: 8 };
  }
}

/** The answers one connection got: `:status` and `x-seq` of every response header block. */
function answersOf(peer: RawH2Client): { status: string; seq: string | null }[] {
  const out: { status: string; seq: string | null }[] = [];
  for (const blocks of peer.fields.values()) {
    for (const fields of blocks) {
      const status = fields.find(([n]) => n === ":status")?.[1];
      if (status === undefined) continue;
      out.push({ status, seq: fields.find(([n]) => n === "x-seq")?.[1] ?? null });
    }
  }
  return out;
}

async function runLane(port: number, l: FuzzLane, rng: Rng, cases: number, name: string) {
  const failures: string[] = [];
  for (let k = 0; k < cases; k++) {
    const answeredBefore = l.answered.length;
    const problemsBefore = l.problems.length;
    await using peer = await rawH2Client(port);
    const said: string[] = [];
    const frames = framesFor(rng, peer, said);
    let bytes = concatBytes(frames.map(encodeFrame));
    const flipped = rng() < 0.3;
    if (flipped) {
      const text = mutate(rng, [latin1(bytes)], BYTE_WORDS);
      bytes = latin1Bytes(text);
    }
    await peer.sendBytes(bytes);
    const where = `${name} case ${k} (seed ${FUZZ_SEED})${flipped ? ", bytes mutated" : ""}: ` +
      `frames ${JSON.stringify(frames.map((f) => f.type))}, requests ${said.join(" ")}`;
    try {
      await waitFor(
        () => peer.closed || peer.received.some((f) => f.type === FrameType.GOAWAY),
        "the connection to end",
        CASE_LIMIT_MS,
      );
    } catch {
      failures.push(`${where}: the connection was still open after ${CASE_LIMIT_MS} ms`);
    }
    peer.close();
    if (l.problems.length > problemsBefore) {
      failures.push(`${where}: the upstream received ${l.problems.slice(problemsBefore)}`);
    }
    const answered = new Set(l.answered.slice(answeredBefore).map(String));
    for (const { status, seq } of answersOf(peer)) {
      if (seq !== null && answered.delete(seq)) continue;
      if (seq === null && ["400", "405", "408", "413"].includes(status)) continue;
      failures.push(`${where}: an answer ${status} (x-seq ${seq}) that is not this case's`);
    }
  }
  return failures;
}

Deno.test("mutated HTTP/2 connections: only canonical requests go upstream, answers stay with their case", async () => {
  const lanes = Array.from({ length: FUZZ_LANES }, fuzzLane);
  await using gw = await laneProxy(
    lanes.map((l) => l.up.url),
    "h2c: only",
    "timeouts: { header_read: 200ms, keep_alive_idle: 200ms, body_idle: 200ms }",
  );
  try {
    await runLanes(gw, CASES, (i, port, rng, n) => runLane(port, lanes[i], rng, n, `lane ${i}`));
    const errors = gw.outcomes.filter((o) => o.status >= 500);
    assert.deepEqual(errors.map((o) => `${o.status} ${o.reason} ${o.error}`), []);
    await Promise.all(lanes.map((_, i) => bystander(gw.port(`l${i}`))));
  } finally {
    await Promise.all(lanes.map((l) => l.up.close()));
  }
});
