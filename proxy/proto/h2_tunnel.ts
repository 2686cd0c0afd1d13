/**
 * WebSocket over HTTP/2 (RFC 8441) on the client side: an extended CONNECT stream with
 * `:protocol: websocket` becomes, for the pipeline, the HTTP/1.1 Upgrade request an upstream
 * understands (GET, `Upgrade: websocket`, `Connection: upgrade`, a fresh `Sec-WebSocket-Key`), and
 * the stream itself a byte connection for the tunnel (`streamConn`): DATA frames in, DATA frames
 * out. The upstream's 101 goes to the client as a 200 HEADERS frame without the fields HTTP/2
 * has no use for (Upgrade, Connection, Sec-WebSocket-Accept).
 *
 * Writes wait until the engine takes the bytes, which it does as the client's flow-control
 * window allows: a slow client slows the upstream down, as on HTTP/1.1 tunnels.
 *
 * Tested by http/websocket_h2_test.ts.
 *
 * @module
 */
import type { ByteConn } from "../net/buffered_conn.ts";
import { ErrorCode } from "./h2/errors.ts";
import type { H2Request } from "./h2/server.ts";
import type { HeaderList } from "./header_list.ts";
import type { BodyReader, OutgoingResponse, TakenConnection } from "./message.ts";

/** Turns the extended CONNECT's fields into an HTTP/1.1 WebSocket upgrade's (in place). */
export function websocketUpgradeHeaders(headers: HeaderList): void {
  headers.set("upgrade", "websocket");
  headers.set("connection", "upgrade");
  const key = new Uint8Array(16);
  crypto.getRandomValues(key);
  headers.set("sec-websocket-key", btoa(String.fromCharCode(...key)));
}

/**
 * A tunnel's entry in the connection registry (a tunnel opened by `route`, closed by `close` at
 * its deadline, on route removal or shutdown): the listener provides it.
 */
export type TunnelTracker = (route: string) => TunnelTrack;

export interface TunnelTrack {
  /** What the registry runs to close the tunnel. */
  onClose: (() => void) | null;
  /** Epoch ms after which the registry closes the tunnel; 0 = none. */
  deadline: number;
  /** The tunnel ended: it leaves the registry. */
  finish(): void;
}

/** Fields of a 101 that an HTTP/2 200 to an extended CONNECT does not carry. */
const NOT_ON_H2 = ["upgrade", "connection", "sec-websocket-accept"];

/** The stream as a TakenConnection for the tunnel (upgrade.ts). */
export function takeStream(
  stream: H2Request,
  signal: AbortSignal,
  track: TunnelTrack,
): TakenConnection {
  const { conn, outbound } = streamConn(stream);
  const closers: (() => void)[] = [];
  const closeAll = () => {
    conn.close();
    for (const close of closers.splice(0)) close();
  };
  track.onClose = closeAll;
  signal.addEventListener("abort", closeAll, { once: true });
  return {
    conn,
    buffered: new Uint8Array(0),
    async accept(res: OutgoingResponse, early: Uint8Array) {
      const headers = res.headers;
      for (const name of NOT_ON_H2) headers.delete(name);
      stream.respond({ status: 200, headers, body: outbound }).catch(() => {
        // The stream failed: the tunnel's reads and writes see it.
      });
      if (early.length > 0) await conn.write(early);
    },
    setDeadline(epochMs: number) {
      track.deadline = epochMs;
    },
    onClose(close: () => void) {
      closers.push(close);
    },
    finish() {
      signal.removeEventListener("abort", closeAll);
      conn.close();
      track.finish();
    },
  };
}

interface Pending {
  readonly bytes: Uint8Array | null;
  readonly taken: () => void;
  readonly failed: (err: Error) => void;
}

/**
 * The stream as a ByteConn: reads are the request body (the client's DATA), writes feed the
 * response body `outbound` (given to `stream.respond`), each resolving once the engine took it.
 */
export function streamConn(stream: H2Request): { conn: ByteConn; outbound: BodyReader } {
  const inbound = stream.body;
  let leftover: Uint8Array | null = null;
  const queue: Pending[] = [];
  let waiting: ((p: Pending) => void) | null = null;
  let failure: Error | null = null;
  const fail = (err: Error) => {
    failure ??= err;
    for (const p of queue.splice(0)) p.failed(failure);
  };
  const push = (bytes: Uint8Array | null) =>
    new Promise<void>((taken, failed) => {
      if (failure !== null) return failed(failure);
      const p = { bytes, taken, failed };
      if (waiting !== null) {
        const w = waiting;
        waiting = null;
        w(p);
      } else queue.push(p);
    });
  const outbound: BodyReader = {
    length: -1,
    async read() {
      const p = queue.shift() ?? await new Promise<Pending>((resolve) => waiting = resolve);
      p.taken();
      return p.bytes;
    },
    cancel() {
      fail(new Error("the client's stream closed"));
    },
  };
  const conn: ByteConn = {
    async read(p: Uint8Array): Promise<number | null> {
      let chunk = leftover;
      leftover = null;
      if (chunk === null) {
        chunk = inbound === null ? null : await inbound.read();
        if (chunk === null) return null;
      }
      const n = Math.min(chunk.length, p.length);
      p.set(chunk.subarray(0, n));
      if (n < chunk.length) leftover = chunk.subarray(n);
      return n;
    },
    async write(p: Uint8Array): Promise<number> {
      await push(p.slice());
      return p.length;
    },
    async closeWrite(): Promise<void> {
      await push(null);
    },
    close() {
      fail(new Error("the tunnel closed"));
      if (!stream.closed) stream.reset(ErrorCode.CANCEL);
    },
  };
  return { conn, outbound };
}
