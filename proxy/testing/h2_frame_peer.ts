/**
 * A raw HTTP/2 peer for attack and edge-case tests: it writes whatever frames the test asks for
 * (no flow control, no validation) and records what the server sends back. Client side, h2c.
 *
 * ```ts
 * await using peer = await rawH2Client(port);
 * const id = peer.request("GET", "/");
 * peer.send({ type: FrameType.RST_STREAM, streamId: id, code: ErrorCode.CANCEL });
 * await peer.waitFor((f) => f.type === FrameType.GOAWAY);
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { connectH2 } from "../proto/h2/client.ts";
import { concatBytes } from "../bytes.ts";
import {
  CLIENT_PREFACE,
  decodeFrame,
  encodeFrame,
  type Frame,
  FrameType,
  type HeadersFrame,
  type UnknownFrame,
} from "../proto/h2/frames.ts";
import { type DecodedFields, HpackDecoder } from "../proto/h2/hpack/decoder.ts";
import { HpackEncoder } from "../proto/h2/hpack/encoder.ts";
import { waitFor } from "./servers.ts";

export interface RawH2Client extends AsyncDisposable {
  /** Frames received so far, in order (payloads copied). */
  readonly received: (Frame | UnknownFrame)[];
  /** Decoded header blocks received (HEADERS with END_HEADERS), by stream id, in order. */
  readonly fields: Map<number, [string, string][][]>;
  /** True once the server closed the connection (or it failed). */
  readonly closed: boolean;
  /** Writes frames (joined into one write). Ignores a connection the server already closed. */
  send(...frames: (Frame | UnknownFrame)[]): Promise<void>;
  /** Writes raw bytes. */
  sendBytes(bytes: Uint8Array): Promise<void>;
  /** A header block for `fields` from this peer's HPACK encoder. */
  block(fields: [string, string][]): Uint8Array;
  /** Opens a stream with a request (END_STREAM unless `open`); returns its id. */
  request(
    method: string,
    path: string,
    open?: boolean,
    extra?: [string, string][],
  ): Promise<number>;
  /** The next unused client stream id (and reserves it). */
  nextStreamId(): number;
  /** Waits until a received frame matches `match` (or the connection closes, then throws). */
  waitFor(
    match: (f: Frame | UnknownFrame) => boolean,
    timeoutMs?: number,
  ): Promise<Frame | UnknownFrame>;
  close(): void;
}

/**
 * Connects to 127.0.0.1:`port` and sends the preface and `settings` (default: none). With
 * `read: false` it never reads what the server sends (a peer that lets the server's writes
 * pile up).
 */
export async function rawH2Client(
  port: number,
  settings: [number, number][] = [],
  { read = true }: { read?: boolean } = {},
): Promise<RawH2Client> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const received: (Frame | UnknownFrame)[] = [];
  let closed = false;
  let nextId = 1;
  const enc = new HpackEncoder();
  const dec = new HpackDecoder();
  const fields = new Map<number, [string, string][][]>();
  const decodeHeaders = (frame: Frame | UnknownFrame) => {
    if (frame.type !== FrameType.HEADERS || "unknown" in frame) return;
    const headers = frame as HeadersFrame;
    if (!headers.endHeaders) return;
    const out: DecodedFields = { names: [], values: [], sensitive: null };
    dec.decode(headers.block, 0, headers.block.length, out, 1 << 20);
    const list = fields.get(headers.streamId) ?? [];
    list.push(out.names.map((n, i) => [n, out.values[i]]));
    fields.set(headers.streamId, list);
  };
  const reading = !read ? Promise.resolve() : (async () => {
    const buf = new Uint8Array(65536);
    let have: Uint8Array = new Uint8Array(0);
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) break;
        have = have.length === 0 ? buf.slice(0, n) : concatBytes([have, buf.subarray(0, n)]);
        let at = 0;
        for (
          let f = decodeFrame(have, at, have.length, 1 << 24);
          f;
          f = decodeFrame(have, at, have.length, 1 << 24)
        ) {
          received.push(structuredClone(f.frame));
          decodeHeaders(f.frame);
          at += f.size;
        }
        have = have.slice(at);
      }
    } catch {
      // reset by the server
    }
    closed = true;
  })();
  const sendBytes = async (bytes: Uint8Array) => {
    if (closed) return;
    try {
      let off = 0;
      while (off < bytes.length) off += await conn.write(bytes.subarray(off));
    } catch {
      closed = true;
    }
  };
  const send = (...frames: (Frame | UnknownFrame)[]) =>
    sendBytes(concatBytes(frames.map(encodeFrame)));
  await sendBytes(concatBytes([
    CLIENT_PREFACE,
    encodeFrame({ type: FrameType.SETTINGS, ack: false, settings }),
  ]));
  const block = (fields: [string, string][]) => {
    enc.begin();
    for (const [n, v] of fields) enc.add(n, v);
    return enc.finish().slice();
  };
  let closing: Promise<void> | null = null;
  const close = () => {
    if (closing) return;
    try {
      conn.close();
    } catch {
      // already closed
    }
    closing = reading;
  };
  return {
    received,
    fields,
    get closed() {
      return closed;
    },
    send,
    sendBytes,
    block,
    nextStreamId: () => {
      const id = nextId;
      nextId += 2;
      return id;
    },
    async request(method, path, open = false, extra = []) {
      const id = nextId;
      nextId += 2;
      await send({
        type: FrameType.HEADERS,
        streamId: id,
        endStream: !open,
        endHeaders: true,
        block: block([
          [":method", method],
          [":scheme", "http"],
          [":authority", `127.0.0.1:${port}`],
          [":path", path],
          ...extra,
        ]),
      });
      return id;
    },
    async waitFor(match, timeoutMs = 10_000) {
      let found: Frame | UnknownFrame | undefined;
      await waitFor(
        () => {
          found = received.find(match);
          if (found === undefined && closed) {
            throw new Error(
              "Connection closed before the frame came",
            );
          }
          return found !== undefined;
        },
        "a frame from the server",
        timeoutMs,
      );
      return found!;
    },
    close,
    async [Symbol.asyncDispose]() {
      close();
      await reading;
    },
  };
}

/**
 * A GET on a connection of its own that must be answered 200 and read to its end: the server
 * under attack on another connection still serves others.
 */
export async function bystander(port: number): Promise<void> {
  const client = connectH2(await Deno.connect({ hostname: "127.0.0.1", port }));
  try {
    const res = await client.request({
      method: "GET",
      scheme: "http",
      authority: "bystander",
      path: "/",
    });
    assert.equal(res.status, 200);
    for (let c = await res.body?.read(); c; c = await res.body!.read()) { /* drain */ }
  } finally {
    client.close();
    await client.closed;
  }
}
