/**
 * TCP peers for tests, on 127.0.0.1 port 0: upstreams (echo, TLS with its own certificate,
 * first-bytes recorder) and client helpers. Reads and writes use `read()`/`write()` loops so
 * that half-close is visible: an upstream ends its side after the client's, not with it.
 *
 * @module
 */
import { join } from "node:path";
import { formatConfigError, loadConfigText } from "../config/mod.ts";
import { concatBytes } from "../bytes.ts";
import { testPki } from "./certs.ts";
import type { TestProxy } from "./proxy.ts";

/** Writes all of `bytes`. */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array | string): Promise<void> {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/** Everything `conn` sends until it ends its side. */
export async function readToEnd(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(64 * 1024);
  while (true) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
    total += n;
  }
  return concatBytes(chunks, total);
}

/** Reads until `n` bytes arrived (fewer if the peer ends first). */
export async function readBytes(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const got = await conn.read(out.subarray(off));
    if (got === null) return out.subarray(0, off);
    off += got;
  }
  return out;
}

export const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

export interface TcpUpstream extends AsyncDisposable {
  readonly port: number;
  /** "tcp://127.0.0.1:<port>". */
  readonly url: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections open now. */
  readonly open: number;
  /** The first bytes of each connection (up to 256), in accept order. */
  readonly firsts: Uint8Array[];
  close(): Promise<void>;
}

/** What an upstream does with each connection. */
export type TcpHandler = (conn: Deno.Conn) => Promise<void>;

/**
 * An echo upstream: every byte comes back; when the client half-closes, the upstream sends
 * `trailer` (if any) and then ends its side too.
 */
export function echoHandler(trailer = ""): TcpHandler {
  return async (conn) => {
    const buf = new Uint8Array(64 * 1024);
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      await writeAll(conn, buf.subarray(0, n));
    }
    if (trailer !== "") await writeAll(conn, trailer);
    await conn.closeWrite();
  };
}

function serve(
  listener: Deno.Listener,
  handler: TcpHandler,
  recordFirst: boolean,
): TcpUpstream {
  const conns = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  const firsts: Uint8Array[] = [];
  let accepted = 0;
  const port = (listener.addr as Deno.NetAddr).port;
  const loop = (async () => {
    try {
      for await (const raw of listener) {
        accepted++;
        conns.add(raw);
        const conn = recordFirst ? recordingFirst(raw, firsts) : raw;
        const task = handler(conn).catch(() => {}).finally(() => {
          conns.delete(raw);
          try {
            raw.close();
          } catch {
            // closed by the handler
          }
          tasks.delete(task);
        });
        tasks.add(task);
      }
    } catch {
      // listener closed
    }
  })();
  let closed: Promise<void> | null = null;
  const close = () =>
    closed ??= (async () => {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // closed already
        }
      }
      await loop;
      await Promise.all(tasks);
    })();
  return {
    port,
    url: `tcp://127.0.0.1:${port}`,
    get accepted() {
      return accepted;
    },
    get open() {
      return conns.size;
    },
    firsts,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Records the first bytes read from `conn` (its first read) into `firsts`. */
function recordingFirst(conn: Deno.Conn, firsts: Uint8Array[]): Deno.Conn {
  const index = firsts.length;
  firsts.push(new Uint8Array(0));
  let first = true;
  const read = conn.read.bind(conn);
  conn.read = async (p: Uint8Array) => {
    const n = await read(p);
    if (first && n !== null) {
      first = false;
      firsts[index] = p.slice(0, Math.min(n, 256));
    }
    return n;
  };
  return conn;
}

/** A plain TCP upstream running `handler` on each connection (echo by default). */
export function tcpUpstream(handler: TcpHandler = echoHandler()): TcpUpstream {
  return serve(Deno.listen({ hostname: "127.0.0.1", port: 0 }), handler, true);
}

/**
 * A TLS upstream with its own certificate for `name` (from the test CA): it greets with
 * `hello from <name>\n`, then echoes.
 */
export async function tlsUpstream(name: string): Promise<TcpUpstream> {
  const { certPem, keyPem } = await (await testPki()).leaf(name);
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: certPem, key: keyPem });
  return serve(listener, async (conn) => {
    await writeAll(conn, `hello from ${name}\n`);
    await echoHandler()(conn);
  }, false);
}

/** A TLS client to 127.0.0.1:`port` verifying `serverName` against the test CA. */
export async function tlsClient(
  port: number,
  serverName: string,
  alpn?: string[],
): Promise<Deno.TlsConn> {
  const { caPem } = await testPki();
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  const conn = await Deno.startTls(tcp, {
    hostname: serverName,
    caCerts: [caPem],
    alpnProtocols: alpn,
  });
  try {
    await conn.handshake();
  } catch (err) {
    conn.close();
    throw err;
  }
  return conn;
}

/** Loads `text` in the test proxy's dir and applies it to its runtime, as a reload does. */
export async function reload(gw: TestProxy, text: string): Promise<void> {
  const file = join(gw.dir, "gatehouse.yaml");
  await Deno.writeTextFile(file, text);
  const loaded = await loadConfigText(text, file);
  if (!loaded.ok) throw new Error(loaded.errors.map(formatConfigError).join("\n"));
  gw.runtime.apply(loaded.config);
}

/** `promise`, or a failure naming `what` after `ms` (so a regression fails instead of hanging). */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
