/**
 * The HTTP/2 frame layer (RFC 9113 section 4 and 6): the 9-byte frame header, the ten frame types
 * as plain objects, and one decoder and one encoder for all of them.
 *
 * `decodeFrame` checks everything that can be checked without connection state (stream id 0 or
 * not, fixed lengths, padding, the frame size limit) and throws the `ConnectionError` or
 * `StreamError` RFC 9113 prescribes. Payloads are views into the input (no copy): they are valid
 * until the caller reuses its buffer.
 *
 * @module
 */
import { ConnectionError, ErrorCode, StreamError } from "./errors.ts";

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

export const FRAME_HEADER_SIZE = 9;
/** SETTINGS_MAX_FRAME_SIZE's initial value and lower bound. */
export const DEFAULT_MAX_FRAME_SIZE = 16_384;
/** SETTINGS_MAX_FRAME_SIZE's upper bound (2^24-1). */
export const MAX_FRAME_SIZE_LIMIT = 16_777_215;
/** Largest flow-control window and stream id (2^31-1). */
export const MAX_WINDOW = 2_147_483_647;

/** The client connection preface, sent before the client's first SETTINGS. */
export const CLIENT_PREFACE = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** Stream dependency of HEADERS and PRIORITY: parsed (RFC 9113 5.3.2 lets us ignore it). */
export interface Priority {
  readonly dependency: number;
  readonly exclusive: boolean;
  /** 1..256. */
  readonly weight: number;
}

export interface DataFrame {
  readonly type: 0x0;
  readonly streamId: number;
  readonly endStream: boolean;
  readonly data: Uint8Array;
  /** Bytes the frame occupied in flow control: data, padding and its length byte. */
  readonly flowLength: number;
  readonly padLength?: number;
}
export interface HeadersFrame {
  readonly type: 0x1;
  readonly streamId: number;
  readonly endStream: boolean;
  readonly endHeaders: boolean;
  readonly block: Uint8Array;
  readonly priority?: Priority;
  readonly padLength?: number;
}
export interface PriorityFrame {
  readonly type: 0x2;
  readonly streamId: number;
  readonly priority: Priority;
}
export interface RstStreamFrame {
  readonly type: 0x3;
  readonly streamId: number;
  readonly code: number;
}
export interface SettingsFrame {
  readonly type: 0x4;
  readonly ack: boolean;
  /** [identifier, value] in the order received. */
  readonly settings: readonly (readonly [number, number])[];
}
export interface PushPromiseFrame {
  readonly type: 0x5;
  readonly streamId: number;
  readonly promisedId: number;
  readonly endHeaders: boolean;
  readonly block: Uint8Array;
  readonly padLength?: number;
}
export interface PingFrame {
  readonly type: 0x6;
  readonly ack: boolean;
  /** Exactly 8 bytes. */
  readonly data: Uint8Array;
}
export interface GoawayFrame {
  readonly type: 0x7;
  readonly lastStreamId: number;
  readonly code: number;
  readonly debug: Uint8Array;
}
export interface WindowUpdateFrame {
  readonly type: 0x8;
  readonly streamId: number;
  readonly increment: number;
}
export interface ContinuationFrame {
  readonly type: 0x9;
  readonly streamId: number;
  readonly endHeaders: boolean;
  readonly block: Uint8Array;
}
/** A frame of a type this engine does not know: ignored (RFC 9113 5.5). */
export interface UnknownFrame {
  readonly type: number;
  readonly unknown: true;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Uint8Array;
}

export type Frame =
  | DataFrame
  | HeadersFrame
  | PriorityFrame
  | RstStreamFrame
  | SettingsFrame
  | PushPromiseFrame
  | PingFrame
  | GoawayFrame
  | WindowUpdateFrame
  | ContinuationFrame;

/** Writes a frame header at `off`. */
export function writeFrameHeader(
  buf: Uint8Array,
  off: number,
  length: number,
  type: number,
  flags: number,
  streamId: number,
): void {
  buf[off] = length >>> 16;
  buf[off + 1] = (length >>> 8) & 0xff;
  buf[off + 2] = length & 0xff;
  buf[off + 3] = type;
  buf[off + 4] = flags;
  writeU32(buf, off + 5, streamId);
}

export function writeU32(buf: Uint8Array, off: number, value: number): void {
  buf[off] = value >>> 24;
  buf[off + 1] = (value >>> 16) & 0xff;
  buf[off + 2] = (value >>> 8) & 0xff;
  buf[off + 3] = value & 0xff;
}

export function readU32(buf: Uint8Array, off: number): number {
  return ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
}

/** The 24-bit length of the frame whose header starts at `off`. */
export function frameLength(buf: Uint8Array, off: number): number {
  return (buf[off] << 16) | (buf[off + 1] << 8) | buf[off + 2];
}

/**
 * Decodes the frame at `buf[off..end)`: null when the frame is not complete yet, else the frame
 * (or an `UnknownFrame`) and its size on the wire. Throws ConnectionError/StreamError for frames
 * RFC 9113 calls malformed; `maxFrameSize` is this side's SETTINGS_MAX_FRAME_SIZE.
 */
export function decodeFrame(
  buf: Uint8Array,
  off: number,
  end: number,
  maxFrameSize: number,
): { frame: Frame | UnknownFrame; size: number } | null {
  if (end - off < FRAME_HEADER_SIZE) return null;
  const length = frameLength(buf, off);
  if (length > maxFrameSize) {
    throw new ConnectionError(
      ErrorCode.FRAME_SIZE_ERROR,
      `frame of ${length} bytes exceeds SETTINGS_MAX_FRAME_SIZE ${maxFrameSize}`,
    );
  }
  if (end - off < FRAME_HEADER_SIZE + length) return null;
  const type = buf[off + 3];
  const flags = buf[off + 4];
  const streamId = readU32(buf, off + 5) & 0x7fffffff;
  const start = off + FRAME_HEADER_SIZE;
  const frame = decodePayload(type, flags, streamId, buf, start, length);
  return { frame, size: FRAME_HEADER_SIZE + length };
}

function protocol(message: string): ConnectionError {
  return new ConnectionError(ErrorCode.PROTOCOL_ERROR, message);
}

function frameSize(message: string): ConnectionError {
  return new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, message);
}

function needStream(streamId: number, what: string): void {
  if (streamId === 0) throw protocol(`${what} frame on stream 0`);
}

function needConnection(streamId: number, what: string): void {
  if (streamId !== 0) throw protocol(`${what} frame on stream ${streamId}, must be 0`);
}

/** The padding length byte of a PADDED frame, checked against the payload (`fixed` bytes before data). */
function padLength(buf: Uint8Array, start: number, length: number, fixed: number, what: string) {
  if (length < 1) throw frameSize(`padded ${what} frame without a pad length`);
  const pad = buf[start];
  if (pad + 1 + fixed > length) {
    throw protocol(`${what} frame's padding (${pad}) is not smaller than its payload (${length})`);
  }
  return pad;
}

function readPriority(buf: Uint8Array, at: number): Priority {
  const word = readU32(buf, at);
  return {
    dependency: word & 0x7fffffff,
    exclusive: (word & 0x80000000) !== 0,
    weight: buf[at + 4] + 1,
  };
}

function decodePayload(
  type: number,
  flags: number,
  streamId: number,
  buf: Uint8Array,
  start: number,
  length: number,
): Frame | UnknownFrame {
  switch (type) {
    case FrameType.DATA: {
      needStream(streamId, "DATA");
      let pad = 0;
      let dataStart = start;
      if (flags & Flag.PADDED) {
        pad = padLength(buf, start, length, 0, "DATA");
        dataStart++;
      }
      const data = buf.subarray(dataStart, start + length - pad);
      return {
        type,
        streamId,
        endStream: (flags & Flag.END_STREAM) !== 0,
        data,
        flowLength: length,
        ...(flags & Flag.PADDED ? { padLength: pad } : {}),
      };
    }
    case FrameType.HEADERS: {
      needStream(streamId, "HEADERS");
      let pad = 0;
      let at = start;
      const hasPriority = (flags & Flag.PRIORITY) !== 0;
      if (flags & Flag.PADDED) {
        pad = padLength(buf, start, length, hasPriority ? 5 : 0, "HEADERS");
        at++;
      }
      let priority: Priority | undefined;
      if (hasPriority) {
        if (at + 5 > start + length) throw frameSize("HEADERS frame too short for its priority");
        priority = readPriority(buf, at);
        at += 5;
      }
      return {
        type,
        streamId,
        endStream: (flags & Flag.END_STREAM) !== 0,
        endHeaders: (flags & Flag.END_HEADERS) !== 0,
        block: buf.subarray(at, start + length - pad),
        ...(priority ? { priority } : {}),
        ...(flags & Flag.PADDED ? { padLength: pad } : {}),
      };
    }
    case FrameType.PRIORITY:
      needStream(streamId, "PRIORITY");
      if (length !== 5) {
        throw new StreamError(
          streamId,
          ErrorCode.FRAME_SIZE_ERROR,
          `PRIORITY frame of ${length} bytes, must be 5`,
        );
      }
      return { type, streamId, priority: readPriority(buf, start) };
    case FrameType.RST_STREAM:
      needStream(streamId, "RST_STREAM");
      if (length !== 4) throw frameSize(`RST_STREAM frame of ${length} bytes, must be 4`);
      return { type, streamId, code: readU32(buf, start) };
    case FrameType.SETTINGS: {
      needConnection(streamId, "SETTINGS");
      const ack = (flags & Flag.ACK) !== 0;
      if (ack && length !== 0) throw frameSize(`SETTINGS ACK frame with a ${length}-byte payload`);
      if (length % 6 !== 0) {
        throw frameSize(`SETTINGS frame of ${length} bytes, not a multiple of 6`);
      }
      const settings: [number, number][] = [];
      for (let at = start; at < start + length; at += 6) {
        settings.push([(buf[at] << 8) | buf[at + 1], readU32(buf, at + 2)]);
      }
      return { type, ack, settings };
    }
    case FrameType.PUSH_PROMISE: {
      needStream(streamId, "PUSH_PROMISE");
      let pad = 0;
      let at = start;
      if (flags & Flag.PADDED) {
        pad = padLength(buf, start, length, 4, "PUSH_PROMISE");
        at++;
      }
      if (at + 4 > start + length) throw frameSize("PUSH_PROMISE frame too short");
      return {
        type,
        streamId,
        promisedId: readU32(buf, at) & 0x7fffffff,
        endHeaders: (flags & Flag.END_HEADERS) !== 0,
        block: buf.subarray(at + 4, start + length - pad),
        ...(flags & Flag.PADDED ? { padLength: pad } : {}),
      };
    }
    case FrameType.PING:
      needConnection(streamId, "PING");
      if (length !== 8) throw frameSize(`PING frame of ${length} bytes, must be 8`);
      return { type, ack: (flags & Flag.ACK) !== 0, data: buf.subarray(start, start + 8) };
    case FrameType.GOAWAY:
      needConnection(streamId, "GOAWAY");
      if (length < 8) throw frameSize(`GOAWAY frame of ${length} bytes, must be at least 8`);
      return {
        type,
        lastStreamId: readU32(buf, start) & 0x7fffffff,
        code: readU32(buf, start + 4),
        debug: buf.subarray(start + 8, start + length),
      };
    case FrameType.WINDOW_UPDATE:
      if (length !== 4) throw frameSize(`WINDOW_UPDATE frame of ${length} bytes, must be 4`);
      return { type, streamId, increment: readU32(buf, start) & 0x7fffffff };
    case FrameType.CONTINUATION:
      needStream(streamId, "CONTINUATION");
      return {
        type,
        streamId,
        endHeaders: (flags & Flag.END_HEADERS) !== 0,
        block: buf.subarray(start, start + length),
      };
    default:
      return { type, unknown: true, flags, streamId, payload: buf.subarray(start, start + length) };
  }
}

/** Encodes one frame (tests and test peers; the engine's writer encodes in place). */
export function encodeFrame(frame: Frame | UnknownFrame): Uint8Array {
  if ("unknown" in frame) return assemble(frame.type, frame.flags, frame.streamId, [frame.payload]);
  switch (frame.type) {
    case FrameType.DATA:
      return padded(
        frame.type,
        frame.endStream ? Flag.END_STREAM : 0,
        frame.streamId,
        [],
        frame.data,
        frame.padLength,
      );
    case FrameType.HEADERS: {
      let flags = (frame.endStream ? Flag.END_STREAM : 0) |
        (frame.endHeaders ? Flag.END_HEADERS : 0);
      const prefix: Uint8Array[] = [];
      if (frame.priority) {
        flags |= Flag.PRIORITY;
        prefix.push(priorityBytes(frame.priority));
      }
      return padded(frame.type, flags, frame.streamId, prefix, frame.block, frame.padLength);
    }
    case FrameType.PRIORITY:
      return assemble(frame.type, 0, frame.streamId, [priorityBytes(frame.priority)]);
    case FrameType.RST_STREAM:
      return assemble(frame.type, 0, frame.streamId, [u32(frame.code)]);
    case FrameType.SETTINGS: {
      const payload = new Uint8Array(frame.settings.length * 6);
      frame.settings.forEach(([id, value], i) => {
        payload[i * 6] = id >>> 8;
        payload[i * 6 + 1] = id & 0xff;
        writeU32(payload, i * 6 + 2, value);
      });
      return assemble(frame.type, frame.ack ? Flag.ACK : 0, 0, [payload]);
    }
    case FrameType.PUSH_PROMISE:
      return padded(
        frame.type,
        frame.endHeaders ? Flag.END_HEADERS : 0,
        frame.streamId,
        [u32(frame.promisedId)],
        frame.block,
        frame.padLength,
      );
    case FrameType.PING:
      return assemble(frame.type, frame.ack ? Flag.ACK : 0, 0, [frame.data]);
    case FrameType.GOAWAY:
      return assemble(frame.type, 0, 0, [u32(frame.lastStreamId), u32(frame.code), frame.debug]);
    case FrameType.WINDOW_UPDATE:
      return assemble(frame.type, 0, frame.streamId, [u32(frame.increment)]);
    case FrameType.CONTINUATION:
      return assemble(
        frame.type,
        frame.endHeaders ? Flag.END_HEADERS : 0,
        frame.streamId,
        [frame.block],
      );
  }
}

function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  writeU32(out, 0, value);
  return out;
}

function priorityBytes(p: Priority): Uint8Array {
  const out = new Uint8Array(5);
  writeU32(out, 0, (p.dependency & 0x7fffffff) | (p.exclusive ? 0x80000000 : 0));
  out[4] = p.weight - 1;
  return out;
}

function padded(
  type: number,
  flags: number,
  streamId: number,
  prefix: Uint8Array[],
  body: Uint8Array,
  pad: number | undefined,
): Uint8Array {
  if (pad === undefined) return assemble(type, flags, streamId, [...prefix, body]);
  return assemble(type, flags | Flag.PADDED, streamId, [
    Uint8Array.of(pad),
    ...prefix,
    body,
    new Uint8Array(pad),
  ]);
}

function assemble(type: number, flags: number, streamId: number, parts: Uint8Array[]): Uint8Array {
  const length = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(FRAME_HEADER_SIZE + length);
  writeFrameHeader(out, 0, length, type, flags, streamId);
  let at = FRAME_HEADER_SIZE;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
