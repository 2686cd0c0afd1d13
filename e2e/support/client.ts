/**
 * Clients that reach containers through their published ports: curl for HTTP (real TLS with
 * SNI, HTTP/2 or HTTP/1.1, a host name resolved to 127.0.0.1 without touching /etc/hosts), and
 * a byte-level WebSocket client over TLS.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { latin1, WireReader, writeAll } from "../../proxy/testing/wire.ts";

/** What curl saw. */
export interface CurlResult {
  readonly status: number;
  /** "1.1" or "2". */
  readonly httpVersion: string;
  readonly body: string;
  /** Where a redirect points ("" for none). */
  readonly location: string;
}

/** Where an HTTPS request goes: `host` (also the SNI name) on 127.0.0.1:`port`. */
export interface HttpsTarget {
  readonly host: string;
  readonly port: number;
  /** PEM file of the CA that signed the proxy's certificate. */
  readonly caFile: string;
  /** The protocol to insist on; curl fails when ALPN picks another. */
  readonly http?: "1.1" | "2";
}

const WRITE_OUT = "%{http_code} %{http_version} %{redirect_url}";

function curlArgs(target: HttpsTarget, path: string): string[] {
  return [
    "--silent",
    "--show-error",
    "--max-time",
    "120",
    "--resolve",
    `${target.host}:${target.port}:127.0.0.1`,
    "--cacert",
    target.caFile,
    target.http === "1.1" ? "--http1.1" : "--http2",
    `https://${target.host}:${target.port}${path}`,
  ];
}

function parseWriteOut(text: string): Omit<CurlResult, "body"> {
  const [status, httpVersion, location = ""] = text.trim().split(" ");
  return { status: Number(status), httpVersion, location };
}

/** Runs curl with `args` (plus the write-out it parses); fails when curl does. */
export async function curl(args: string[]): Promise<CurlResult> {
  const output = await new Deno.Command("curl", {
    args: [...args, "--write-out", `%{stderr}${WRITE_OUT}`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  if (output.code !== 0) throw new Error(`curl ${args.join(" ")} failed: ${stderr.trim()}`);
  return { ...parseWriteOut(stderr), body: new TextDecoder().decode(output.stdout) };
}

/** An HTTPS request through the proxy (`extra`: more curl options, e.g. a method). */
export function https(
  target: HttpsTarget,
  path: string,
  extra: string[] = [],
): Promise<CurlResult> {
  return curl([...extra, ...curlArgs(target, path)]);
}

/** The JSON body of a 200 answer. */
export async function httpsJson<T = Record<string, unknown>>(
  target: HttpsTarget,
  path: string,
): Promise<T> {
  const result = await https(target, path);
  if (result.status !== 200) throw new Error(`${path} answered ${result.status}: ${result.body}`);
  return JSON.parse(result.body);
}

/** Downloads `path` and returns its status, protocol, size and SHA-256, hashing as it arrives. */
export async function httpsDigest(
  target: HttpsTarget,
  path: string,
): Promise<Omit<CurlResult, "body"> & { bytes: number; sha256: string }> {
  const child = new Deno.Command("curl", {
    args: [...curlArgs(target, path), "--write-out", `%{stderr}${WRITE_OUT}`],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const hash = createHash("sha256");
  let bytes = 0;
  const [, output] = await Promise.all([
    (async () => {
      for await (const chunk of child.stdout) {
        hash.update(chunk);
        bytes += chunk.length;
      }
    })(),
    new Response(child.stderr).text(),
  ]);
  const { code } = await child.status;
  if (code !== 0) throw new Error(`curl ${path} failed: ${output.trim()}`);
  return { ...parseWriteOut(output), bytes, sha256: hash.digest("hex") };
}

/** An answer with its header fields and raw body bytes (nothing decoded). */
export interface RawAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Uint8Array;
}

/** An HTTPS request whose answer is kept as it came: fields, and the body still encoded. */
export async function httpsRaw(
  target: HttpsTarget,
  path: string,
  extra: string[] = [],
): Promise<RawAnswer> {
  const dir = await Deno.makeTempDir();
  try {
    const result = await curl([
      ...extra,
      "--dump-header",
      `${dir}/head`,
      "--output",
      `${dir}/body`,
      ...curlArgs(target, path),
    ]);
    const lines = (await Deno.readTextFile(`${dir}/head`)).split("\r\n").slice(1);
    const headers = new Headers();
    for (const line of lines) {
      const colon = line.indexOf(":");
      if (colon > 0) headers.append(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    return { status: result.status, headers, body: await Deno.readFile(`${dir}/body`) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Sends `data` over a TCP connection to 127.0.0.1:`port`, closes the sending side, and returns
 * everything that came back until the peer closed.
 */
export async function tcpEcho(port: number, data: Uint8Array): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const [, received] = await Promise.all([
      writeAll(conn, data).then(() => conn.closeWrite()),
      new WireReader(conn).readToEnd(),
    ]);
    return received;
  } finally {
    conn.close();
  }
}

/** SHA-256 (hex) of the chunks of `stream`. */
export async function sha256Of(stream: ReadableStream<Uint8Array>): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of stream) hash.update(chunk);
  return hash.digest("hex");
}

/** A WebSocket message: text or binary. */
export type Message = string | Uint8Array;

function frame(opcode: number, payload: Uint8Array): Uint8Array {
  const ext = payload.length < 126 ? 0 : payload.length < 65536 ? 2 : 8;
  const out = new Uint8Array(2 + ext + 4 + payload.length);
  out[0] = 0x80 | opcode;
  out[1] = 0x80 | (ext === 0 ? payload.length : ext === 2 ? 126 : 127);
  const view = new DataView(out.buffer);
  if (ext === 2) view.setUint16(2, payload.length);
  if (ext === 8) view.setBigUint64(2, BigInt(payload.length));
  const mask = crypto.getRandomValues(new Uint8Array(4));
  out.set(mask, 2 + ext);
  for (let i = 0; i < payload.length; i++) out[6 + ext + i] = payload[i] ^ mask[i % 4];
  return out;
}

async function readFrame(reader: WireReader): Promise<{ opcode: number; payload: Uint8Array }> {
  const [b0, b1] = await reader.readExactly(2);
  let length = b1 & 0x7f;
  if (length === 126) length = new DataView((await reader.readExactly(2)).buffer).getUint16(0);
  if (length === 127) {
    length = Number(new DataView((await reader.readExactly(8)).buffer).getBigUint64(0));
  }
  if (b1 & 0x80) throw new Error("the server masked a frame");
  return { opcode: b0 & 0x0f, payload: await reader.readExactly(length) };
}

/**
 * Opens a WebSocket to wss://`serverName`/ through 127.0.0.1:`port` (TLS with that SNI, trusting
 * `caPem`), sends each message, and returns what came back for each; then closes with 1000.
 */
export async function websocketEcho(
  port: number,
  serverName: string,
  caPem: string,
  messages: readonly Message[],
): Promise<Message[]> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  const conn = await Deno.startTls(tcp, {
    hostname: serverName,
    caCerts: [caPem],
    alpnProtocols: ["http/1.1"],
  });
  try {
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    await writeAll(
      conn,
      `GET / HTTP/1.1\r\nHost: ${serverName}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    const reader = new WireReader(conn);
    const head = latin1((await reader.readUntil("\r\n\r\n"))!);
    const magic = new TextEncoder().encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", magic));
    const accept = btoa(String.fromCharCode(...digest));
    if (!head.startsWith("HTTP/1.1 101 ") || !head.toLowerCase().includes(accept.toLowerCase())) {
      throw new Error(`The WebSocket upgrade was refused:\n${head}`);
    }
    const echoed: Message[] = [];
    for (const message of messages) {
      const text = typeof message === "string";
      await writeAll(conn, frame(text ? 1 : 2, text ? new TextEncoder().encode(message) : message));
      const { opcode, payload } = await readFrame(reader);
      echoed.push(opcode === 1 ? new TextDecoder().decode(payload) : payload);
    }
    await writeAll(conn, frame(8, new Uint8Array([0x03, 0xe8])));
    const close = await readFrame(reader);
    if (close.opcode !== 8) throw new Error(`Expected a close frame, got opcode ${close.opcode}`);
    return echoed;
  } finally {
    conn.close();
  }
}
