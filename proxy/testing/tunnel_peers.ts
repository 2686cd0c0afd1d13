/**
 * Byte-level peers for Upgrade tunnels, so tests see exactly what crosses the proxy:
 * - `tunnelUpstream`: reads each request head and hands the connection (and any bytes that
 *   came after the head) to the test, which answers 101 or anything else.
 * - `upgradeRequest`: a raw client that sends an Upgrade request and reads the answer head.
 * - `wsFrame`: one WebSocket frame, masked as clients must.
 * - `tunnelProxy`: a proxy with a plain and a TLS entrypoint routing everything to one upstream.
 *
 * @module
 */
import { concatBytes } from "../bytes.ts";
import { connect, type RawClient, startProxy, type TestProxy } from "./proxy.ts";
import { tcpUpstream } from "./tcp_peers.ts";
import { field, type Head, readHead, WireReader, writeAll } from "./wire.ts";

/** One upgrade request as the upstream read it, with its connection. */
export interface TunnelPeer {
  readonly head: Head;
  readonly conn: Deno.Conn;
  /** Holds the bytes that followed the head, and reads on. */
  readonly reader: WireReader;
  write(data: string | Uint8Array): Promise<void>;
}

export interface TunnelUpstream extends AsyncDisposable {
  readonly port: number;
  readonly url: string;
  /** Heads of every request received. */
  readonly heads: Head[];
  close(): Promise<void>;
}

/**
 * A raw upstream: for each connection, reads one request head and calls `handle`; the
 * connection is closed when `handle` settles.
 */
export function tunnelUpstream(handle: (peer: TunnelPeer) => Promise<void>): TunnelUpstream {
  const heads: Head[] = [];
  const tcp = tcpUpstream(async (conn) => {
    const reader = new WireReader(conn);
    const head = await readHead(reader);
    if (head === null) return;
    heads.push(head);
    await handle({
      head,
      conn,
      reader,
      write: (data) => writeAll(conn, data),
    });
  });
  return {
    port: tcp.port,
    url: `http://127.0.0.1:${tcp.port}`,
    heads,
    close: tcp.close,
    [Symbol.asyncDispose]: tcp.close,
  };
}

/** The Sec-WebSocket-Accept answer to a Sec-WebSocket-Key (RFC 6455 4.2.2). */
export async function acceptKey(key: string): Promise<string> {
  const magic = new TextEncoder().encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", magic));
  return btoa(String.fromCharCode(...digest));
}

/** Answers an upgrade request with 101 (plus `extra` fields, and `after` in the same write). */
export async function accept101(
  peer: TunnelPeer,
  extra = "",
  after: Uint8Array = new Uint8Array(0),
): Promise<void> {
  const key = field(peer.head, "sec-websocket-key");
  const accept = key === null ? "" : `Sec-WebSocket-Accept: ${await acceptKey(key)}\r\n`;
  const upgrade = field(peer.head, "upgrade") ?? "websocket";
  const head = new TextEncoder().encode(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${upgrade}\r\nConnection: Upgrade\r\n` +
      accept + extra + "\r\n",
  );
  await peer.write(concatBytes([head, after]));
}

/** Where a raw client connects: 127.0.0.1:`port`, over TLS with SNI `tls` when given. */
export interface Endpoint {
  readonly port: number;
  readonly tls?: string;
}

export interface UpgradeRequestOptions {
  readonly target?: string;
  /** Upgrade protocol; "websocket" (default) adds a key and version. */
  readonly protocol?: string;
  /** Value of the Connection field; default "Upgrade". */
  readonly connection?: string;
  /** Extra request lines, e.g. ["Cookie: a=1"]. */
  readonly fields?: readonly string[];
  /** Sent right after the head, in the same write (bytes a client may send early). */
  readonly early?: Uint8Array;
}

/** A raw client after its upgrade request: the answer head, and the connection to go on with. */
export interface UpgradedClient extends Disposable {
  readonly client: RawClient;
  readonly head: Head;
  readonly status: number;
}

/** Connects to `to`, sends an upgrade request and reads the response head. */
export async function upgradeRequest(
  to: Endpoint,
  options: UpgradeRequestOptions = {},
): Promise<UpgradedClient> {
  const client = await connect(to.port, to.tls === undefined ? {} : { tls: to.tls });
  const protocol = options.protocol ?? "websocket";
  const ws = protocol === "websocket"
    ? "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    : "";
  const lines = (options.fields ?? []).map((l) => l + "\r\n").join("");
  const head = new TextEncoder().encode(
    `GET ${options.target ?? "/"} HTTP/1.1\r\nHost: localhost\r\n` +
      `Upgrade: ${protocol}\r\nConnection: ${options.connection ?? "Upgrade"}\r\n${ws}${lines}\r\n`,
  );
  const early = options.early ?? new Uint8Array(0);
  const first = new Uint8Array(head.length + early.length);
  first.set(head);
  first.set(early, head.length);
  try {
    await client.send(first);
    const answer = await readHead(client.reader);
    if (answer === null) throw new Error("the proxy closed the connection before answering");
    return {
      client,
      head: answer,
      status: Number(answer.startLine.split(" ")[1]),
      [Symbol.dispose]: () => client.close(),
    };
  } catch (err) {
    client.close();
    throw err;
  }
}

/** WebSocket opcodes (RFC 6455 5.2). */
export const Opcode = { cont: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** One WebSocket frame; `mask` (clients must mask) uses a fixed key so that bytes are stable. */
export function wsFrame(
  opcode: number,
  payload: string | Uint8Array,
  options: { fin?: boolean; mask?: boolean } = {},
): Uint8Array {
  const data = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const fin = options.fin ?? true;
  const mask = options.mask ?? false;
  const len = data.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const out = new Uint8Array(2 + ext + (mask ? 4 : 0) + len);
  out[0] = (fin ? 0x80 : 0) | opcode;
  out[1] = (mask ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127);
  const view = new DataView(out.buffer);
  if (ext === 2) view.setUint16(2, len);
  if (ext === 8) view.setBigUint64(2, BigInt(len));
  let off = 2 + ext;
  const key = [0x37, 0xfa, 0x21, 0x3d];
  if (mask) {
    out.set(key, off);
    off += 4;
  }
  for (let i = 0; i < len; i++) out[off + i] = mask ? data[i] ^ key[i % 4] : data[i];
  return out;
}

export interface TunnelProxyOptions {
  /** More keys of the one route, as YAML flow-mapping entries ("upgrade: false"). */
  readonly route?: string;
  /** More keys of the service, as YAML flow-mapping entries ("tls: { ca_file: ca.crt }"). */
  readonly service?: string;
  /** More top-level YAML ("timeouts: { header_read: 1s }"). */
  readonly top?: string;
}

/**
 * A proxy with entrypoints "web" (plain) and "secure" (TLS, localhost certificate) and one route
 * "ws" that sends everything to `upstream`.
 */
export function tunnelProxy(
  upstream: string,
  options: TunnelProxyOptions = {},
): Promise<TestProxy> {
  const route = options.route === undefined ? "" : `, ${options.route}`;
  const service = options.service === undefined ? "" : `, ${options.service}`;
  return startProxy(`entrypoints:
  web: { address: "127.0.0.1:0" }
  secure:
    address: "127.0.0.1:0"
    tls: { certificates: [{ cert: localhost.crt, key: localhost.key }] }
routes:
  - { name: ws, service: ws${route} }
services:
  ws: { servers: ["${upstream}"]${service} }
${options.top ?? ""}
`);
}

/** The ws:// (web) or wss:// (secure) URL of `path` on a `tunnelProxy` entrypoint. */
export function wsUrl(gw: TestProxy, entrypoint: "web" | "secure", path = "/"): string {
  return entrypoint === "web"
    ? `ws://127.0.0.1:${gw.port("web")}${path}`
    : `wss://localhost:${gw.port("secure")}${path}`;
}

/** Where a raw client reaches a `tunnelProxy` entrypoint. */
export function entry(gw: TestProxy, entrypoint: "web" | "secure"): Endpoint {
  return entrypoint === "web"
    ? { port: gw.port("web") }
    : { port: gw.port("secure"), tls: "localhost" };
}
