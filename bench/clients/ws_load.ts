/**
 * WebSocket echo load: `--sessions` connections each send one binary message of `--size` bytes,
 * wait for the echo, and repeat, for `--warmup` then `--seconds` seconds. Frames are built and
 * counted on raw sockets (one masked frame prepared up front), so the generator spends little
 * CPU per message. Prints messages/s and round-trip percentiles of the measured phase.
 *
 * `deno run --allow-net bench/clients/ws_load.ts --port P --path /ws --size 64 --sessions 50
 *  --seconds 5 --warmup 1`
 *
 * @module
 */
import { closeQuietly, measurePhases, options, writeAll } from "./common.ts";

const opt = options({
  port: undefined,
  path: "/ws",
  size: "64",
  sessions: "50",
  seconds: "5",
  warmup: "1",
});
const size = Number(opt.size);

interface Session {
  conn: Deno.Conn;
  buf: Uint8Array;
}

/** A masked, final, binary client frame carrying `size` bytes. */
function clientFrame(size: number): Uint8Array {
  const ext = size < 126 ? 0 : size < 65536 ? 2 : 8;
  const frame = new Uint8Array(2 + ext + 4 + size);
  frame[0] = 0x82;
  const view = new DataView(frame.buffer);
  if (ext === 0) frame[1] = 0x80 | size;
  else if (ext === 2) (frame[1] = 0x80 | 126), view.setUint16(2, size);
  else (frame[1] = 0x80 | 127), view.setBigUint64(2, BigInt(size));
  const mask = [0x12, 0x34, 0x56, 0x78];
  frame.set(mask, 2 + ext);
  const payloadAt = 2 + ext + 4;
  for (let i = 0; i < size; i++) frame[payloadAt + i] = (i & 0xff) ^ mask[i & 3];
  return frame;
}

/** Bytes of the unmasked server frame echoing `size` bytes. */
function serverFrameLength(size: number): number {
  return 2 + (size < 126 ? 0 : size < 65536 ? 2 : 8) + size;
}

const FRAME = clientFrame(size);
const EXPECTED = serverFrameLength(size);

async function open(): Promise<Session> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(opt.port) });
  conn.setNoDelay(true);
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  const head = `GET ${opt.path} HTTP/1.1\r\nHost: localhost:${opt.port}\r\n` +
    `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
    `Sec-WebSocket-Version: 13\r\n\r\n`;
  await writeAll(conn, new TextEncoder().encode(head));
  const buf = new Uint8Array(Math.max(EXPECTED, 16 * 1024) * 2);
  let text = "";
  while (!text.includes("\r\n\r\n")) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("Cannot open WebSocket: connection closed during handshake");
    text += new TextDecoder("latin1").decode(buf.subarray(0, n));
  }
  if (!/^HTTP\/1\.1 101/.test(text)) {
    throw new Error(`Cannot open WebSocket: got "${text.split("\r\n")[0]}" instead of 101`);
  }
  if (!text.endsWith("\r\n\r\n")) throw new Error("Cannot open WebSocket: data before a message");
  return { conn, buf };
}

async function exchange(session: Session): Promise<void> {
  await writeAll(session.conn, FRAME);
  let got = 0;
  while (got < EXPECTED) {
    const n = await session.conn.read(session.buf);
    if (n === null) throw new Error("WebSocket connection closed before the echo");
    if (got === 0 && session.buf[0] !== 0x82) {
      throw new Error(`Unexpected frame type 0x${session.buf[0].toString(16)}`);
    }
    got += n;
  }
  if (got !== EXPECTED) throw new Error(`Echo of ${got} bytes, expected ${EXPECTED}`);
}

const sessions = await Promise.all(Array.from({ length: Number(opt.sessions) }, open));
await measurePhases(
  sessions.length,
  Number(opt.warmup),
  Number(opt.seconds),
  (i) => exchange(sessions[i]),
);
for (const session of sessions) closeQuietly(session.conn);
