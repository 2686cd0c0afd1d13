/**
 * A raw h2c upstream for fuzz tests: it reads requests as frames and lets the test write any
 * frames back (its own HPACK encoder per connection, no flow control, no validation).
 *
 * ```ts
 * await using up = h2RawUpstream((req, reply) => reply([...frames for req.streamId...]));
 * ```
 *
 * @module
 */
import { concatBytes } from "../bytes.ts";
import {
  CLIENT_PREFACE,
  decodeFrame,
  encodeFrame,
  type Frame,
  FrameType,
  type UnknownFrame,
} from "../proto/h2/frames.ts";
import { type DecodedFields, HpackDecoder } from "../proto/h2/hpack/decoder.ts";
import { HpackEncoder } from "../proto/h2/hpack/encoder.ts";
import { tcpUpstream, writeAll } from "./tcp_peers.ts";

/** A request as the raw upstream saw it: its stream and its header fields. */
export interface H2RawUpstreamRequest {
  readonly streamId: number;
  readonly fields: readonly (readonly [string, string])[];
}

/** What a responder gets: the request, and ways to answer on this connection. */
export interface H2RawReply {
  /** A header block from this connection's HPACK encoder. */
  block(fields: readonly (readonly [string, string])[]): Uint8Array;
  /** Writes bytes (frames encoded, possibly mutated) on the connection. */
  send(bytes: Uint8Array): Promise<void>;
  /** Closes the connection. */
  close(): void;
}

export interface H2RawUpstream extends AsyncDisposable {
  readonly port: number;
  /** "h2c://127.0.0.1:<port>". */
  readonly url: string;
  close(): Promise<void>;
}

/** Encodes frames into one buffer. */
export function frameBytes(frames: readonly (Frame | UnknownFrame)[]): Uint8Array {
  return concatBytes(frames.map(encodeFrame));
}

/**
 * Serves h2c: SETTINGS (empty) and an ACK of the client's, PING answers, and `respond` for every
 * request head (END_HEADERS; request bodies are read and dropped).
 */
export function h2RawUpstream(
  respond: (req: H2RawUpstreamRequest, reply: H2RawReply) => void | Promise<void>,
): H2RawUpstream {
  const tcp = tcpUpstream(async (conn) => {
    const enc = new HpackEncoder();
    const dec = new HpackDecoder();
    const send = (bytes: Uint8Array) => writeAll(conn, bytes);
    const reply: H2RawReply = {
      block(fields) {
        enc.begin();
        for (const [n, v] of fields) enc.add(n, v);
        return enc.finish().slice();
      },
      send,
      close: () => conn.close(),
    };
    await send(encodeFrame({ type: FrameType.SETTINGS, ack: false, settings: [] }));
    const buf = new Uint8Array(65536);
    let have: Uint8Array = new Uint8Array(0);
    let preface = false;
    while (true) {
      const n = await conn.read(buf);
      if (n === null) return;
      have = concatBytes([have, buf.subarray(0, n)]);
      if (!preface) {
        if (have.length < CLIENT_PREFACE.length) continue;
        have = have.slice(CLIENT_PREFACE.length);
        preface = true;
      }
      let at = 0;
      for (
        let f = decodeFrame(have, at, have.length, 1 << 24);
        f;
        f = decodeFrame(have, at, have.length, 1 << 24)
      ) {
        at += f.size;
        const frame = f.frame;
        if ("unknown" in frame) continue;
        if (frame.type === FrameType.SETTINGS && !frame.ack) {
          await send(encodeFrame({ type: FrameType.SETTINGS, ack: true, settings: [] }));
        } else if (frame.type === FrameType.PING && !frame.ack) {
          await send(encodeFrame({ type: FrameType.PING, ack: true, data: frame.data }));
        } else if (frame.type === FrameType.HEADERS && frame.endHeaders) {
          const out: DecodedFields = { names: [], values: [], sensitive: null };
          dec.decode(frame.block, 0, frame.block.length, out, 1 << 20);
          const fields = out.names.map((name, i) => [name, out.values[i]] as const);
          await respond({ streamId: frame.streamId, fields }, reply);
        }
      }
      have = have.slice(at);
    }
  });
  return {
    port: tcp.port,
    url: `h2c://127.0.0.1:${tcp.port}`,
    close: tcp.close,
    [Symbol.asyncDispose]: tcp.close,
  };
}
