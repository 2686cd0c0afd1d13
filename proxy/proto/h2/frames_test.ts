/**
 * The frame codec: every frame type round-trips (with and without padding and priority), frames
 * split across reads wait for their bytes, and malformed frames raise the error RFC 9113 names.
 */
import assert from "node:assert/strict";
import { ConnectionError, ErrorCode, StreamError } from "./errors.ts";
import {
  decodeFrame,
  DEFAULT_MAX_FRAME_SIZE,
  encodeFrame,
  Flag,
  type Frame,
  FrameType,
  writeFrameHeader,
} from "./frames.ts";

const bytes = (...b: number[]) => Uint8Array.from(b);

const FRAMES: Frame[] = [
  {
    type: FrameType.DATA,
    streamId: 1,
    endStream: true,
    data: bytes(1, 2, 3),
    flowLength: 3,
  },
  {
    type: FrameType.DATA,
    streamId: 3,
    endStream: false,
    data: bytes(4),
    flowLength: 1 + 1 + 7,
    padLength: 7,
  },
  {
    type: FrameType.HEADERS,
    streamId: 5,
    endStream: false,
    endHeaders: true,
    block: bytes(0x82, 0x84),
  },
  {
    type: FrameType.HEADERS,
    streamId: 7,
    endStream: true,
    endHeaders: false,
    block: bytes(0x82),
    priority: { dependency: 5, exclusive: true, weight: 256 },
    padLength: 2,
  },
  {
    type: FrameType.PRIORITY,
    streamId: 9,
    priority: { dependency: 0x7fffffff, exclusive: false, weight: 1 },
  },
  { type: FrameType.RST_STREAM, streamId: 11, code: ErrorCode.CANCEL },
  { type: FrameType.SETTINGS, ack: false, settings: [[1, 4096], [4, 0x7fffffff], [0x99, 7]] },
  { type: FrameType.SETTINGS, ack: true, settings: [] },
  {
    type: FrameType.PUSH_PROMISE,
    streamId: 1,
    promisedId: 2,
    endHeaders: true,
    block: bytes(0x82),
    padLength: 3,
  },
  { type: FrameType.PING, ack: true, data: bytes(1, 2, 3, 4, 5, 6, 7, 8) },
  { type: FrameType.GOAWAY, lastStreamId: 13, code: ErrorCode.NO_ERROR, debug: bytes(104, 105) },
  { type: FrameType.WINDOW_UPDATE, streamId: 0, increment: 0x7fffffff },
  { type: FrameType.CONTINUATION, streamId: 15, endHeaders: true, block: bytes(0x86) },
];

Deno.test("every frame type round-trips through encode and decode", () => {
  for (const frame of FRAMES) {
    const wire = encodeFrame(frame);
    const got = decodeFrame(wire, 0, wire.length, DEFAULT_MAX_FRAME_SIZE);
    assert.ok(got);
    assert.equal(got.size, wire.length);
    assert.deepEqual(got.frame, frame, `frame type ${frame.type}`);
  }
});

Deno.test("frames in one buffer decode one after the other; a partial frame waits", () => {
  const a = encodeFrame(FRAMES[0]);
  const b = encodeFrame(FRAMES[9]);
  const buf = new Uint8Array([...a, ...b]);
  const first = decodeFrame(buf, 0, buf.length, DEFAULT_MAX_FRAME_SIZE)!;
  assert.equal(first.frame.type, FrameType.DATA);
  const second = decodeFrame(buf, first.size, buf.length, DEFAULT_MAX_FRAME_SIZE)!;
  assert.equal(second.frame.type, FrameType.PING);
  for (let cut = 0; cut < b.length; cut++) {
    assert.equal(decodeFrame(b, 0, cut, DEFAULT_MAX_FRAME_SIZE), null, `cut at ${cut}`);
  }
});

Deno.test("an unknown frame type is passed up as unknown; reserved bits are ignored", () => {
  const wire = new Uint8Array(9 + 3);
  writeFrameHeader(wire, 0, 3, 0xfa, 0xff, 0x80000001);
  const got = decodeFrame(wire, 0, wire.length, DEFAULT_MAX_FRAME_SIZE)!;
  assert.deepEqual(got.frame, {
    type: 0xfa,
    unknown: true,
    flags: 0xff,
    streamId: 1,
    payload: new Uint8Array(3),
  });
});

function raw(type: number, flags: number, streamId: number, payload: number[]): Uint8Array {
  const wire = new Uint8Array(9 + payload.length);
  writeFrameHeader(wire, 0, payload.length, type, flags, streamId);
  wire.set(payload, 9);
  return wire;
}

function refuses(
  wire: Uint8Array,
  kind: typeof ConnectionError | typeof StreamError,
  code: number,
) {
  assert.throws(
    () => decodeFrame(wire, 0, wire.length, DEFAULT_MAX_FRAME_SIZE),
    (err: unknown) => err instanceof kind && err.code === code,
  );
}

Deno.test("malformed frames raise the connection or stream error RFC 9113 prescribes", () => {
  const C = ConnectionError;
  const { PROTOCOL_ERROR: P, FRAME_SIZE_ERROR: F } = ErrorCode;
  refuses(raw(FrameType.DATA, 0, 0, [1]), C, P);
  refuses(raw(FrameType.DATA, Flag.PADDED, 1, [3, 0, 0]), C, P);
  refuses(raw(FrameType.DATA, Flag.PADDED, 1, []), C, F);
  refuses(raw(FrameType.HEADERS, 0, 0, [0x82]), C, P);
  refuses(raw(FrameType.HEADERS, Flag.PADDED | Flag.PRIORITY, 1, [1, 0, 0, 0, 0, 0]), C, P);
  refuses(raw(FrameType.HEADERS, Flag.PRIORITY, 1, [0, 0, 0]), C, F);
  refuses(raw(FrameType.PRIORITY, 0, 0, [0, 0, 0, 0, 0]), C, P);
  refuses(raw(FrameType.PRIORITY, 0, 1, [0, 0, 0, 0]), StreamError, F);
  refuses(raw(FrameType.RST_STREAM, 0, 0, [0, 0, 0, 0]), C, P);
  refuses(raw(FrameType.RST_STREAM, 0, 1, [0, 0, 0]), C, F);
  refuses(raw(FrameType.SETTINGS, 0, 1, []), C, P);
  refuses(raw(FrameType.SETTINGS, Flag.ACK, 0, [0, 1, 0, 0, 0, 0]), C, F);
  refuses(raw(FrameType.SETTINGS, 0, 0, [0, 1, 0, 0, 0]), C, F);
  refuses(raw(FrameType.PUSH_PROMISE, 0, 0, [0, 0, 0, 2]), C, P);
  refuses(raw(FrameType.PUSH_PROMISE, 0, 1, [0, 0]), C, F);
  refuses(raw(FrameType.PING, 0, 1, [0, 0, 0, 0, 0, 0, 0, 0]), C, P);
  refuses(raw(FrameType.PING, 0, 0, [0, 0, 0, 0, 0, 0, 0]), C, F);
  refuses(raw(FrameType.GOAWAY, 0, 1, [0, 0, 0, 0, 0, 0, 0, 0]), C, P);
  refuses(raw(FrameType.GOAWAY, 0, 0, [0, 0, 0, 0]), C, F);
  refuses(raw(FrameType.WINDOW_UPDATE, 0, 0, [0, 0, 1]), C, F);
  refuses(raw(FrameType.CONTINUATION, 0, 0, [0x82]), C, P);
});

Deno.test("a frame larger than SETTINGS_MAX_FRAME_SIZE is refused from its header alone", () => {
  const header = new Uint8Array(9);
  writeFrameHeader(header, 0, DEFAULT_MAX_FRAME_SIZE + 1, FrameType.DATA, 0, 1);
  refuses(header, ConnectionError, ErrorCode.FRAME_SIZE_ERROR);
  const big = new Uint8Array(9 + DEFAULT_MAX_FRAME_SIZE);
  writeFrameHeader(big, 0, DEFAULT_MAX_FRAME_SIZE, FrameType.DATA, 0, 1);
  assert.equal(decodeFrame(big, 0, big.length, DEFAULT_MAX_FRAME_SIZE)!.size, big.length);
});
