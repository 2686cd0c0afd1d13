/**
 * A test-only HTTP/2 server on Gatehouse's engine (proxy/proto/h2/), over TLS (ALPN h2) or h2c
 * with prior knowledge, on 127.0.0.1 and port 0. Routes:
 * - `GET|HEAD /` and any other path: 200 "hello from gatehouse h2\n";
 * - `POST` (any path), and `CONNECT` (a tunnel, with `enableConnectProtocol` an extended one): 200
 *   echoing the request body as it arrives, and its trailers as trailers;
 * - `/trailers`: 200 "with trailers\n" and trailers `x-trailer: done`, `grpc-status: 0`;
 * - `/bytes/N`: 200 with N bytes of a repeating pattern (sent as 64 KiB chunks);
 * - `/status/N`: status N with a short body.
 *
 * ```ts
 * await using server = await h2TestServer({ tls: true });
 * // curl --http2 -k https://127.0.0.1:${server.port}/
 * ```
 *
 * @module
 */
import { HeaderList } from "../proto/header_list.ts";
import type { BodyReader } from "../proto/message.ts";
import type { H2Event } from "../proto/h2/options.ts";
import { createH2Stats, type H2Stats } from "../proto/h2/guard.ts";
import {
  type H2Request,
  type H2ServerConnection,
  type H2ServerOptions,
  serveH2,
} from "../proto/h2/server.ts";
import { testPki } from "./certs.ts";

export interface H2TestServerOptions {
  /** TLS with ALPN h2 (default) or h2c with prior knowledge. */
  readonly tls?: boolean;
  /** Engine options (limits, windows, budgets); `onRequest` is the test server's own. */
  readonly engine?: Omit<H2ServerOptions, "onRequest">;
  /** Replaces the built-in routes. */
  readonly onRequest?: (req: H2Request) => void;
}

export interface H2TestServer extends AsyncDisposable {
  readonly port: number;
  /** "https://127.0.0.1:<port>" or "http://...". */
  readonly url: string;
  /** The CA that signed the server's certificate (TLS only). */
  readonly caPem: string;
  readonly stats: H2Stats;
  /** Protocol events of every connection, in order. */
  readonly events: H2Event[];
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections open now. */
  readonly connections: ReadonlySet<H2ServerConnection>;
  close(): Promise<void>;
}

export const HELLO = new TextEncoder().encode("hello from gatehouse h2\n");

export async function h2TestServer(options: H2TestServerOptions = {}): Promise<H2TestServer> {
  const tls = options.tls ?? true;
  const pki = await testPki();
  const stats = createH2Stats();
  const events: H2Event[] = [];
  const connections = new Set<H2ServerConnection>();
  let accepted = 0;
  let listener: Deno.Listener;
  if (tls) {
    const { certPem, keyPem } = await pki.leaf();
    listener = Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: certPem,
      key: keyPem,
      alpnProtocols: ["h2"],
    });
  } else {
    listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  }
  const onRequest = options.onRequest ?? routes;
  const serving = (async () => {
    for await (const conn of listener) {
      accepted++;
      void (async () => {
        try {
          if (tls) await (conn as Deno.TlsConn).handshake();
          else (conn as Deno.TcpConn).setNoDelay(true);
        } catch {
          conn.close();
          return;
        }
        const h2 = serveH2(conn, {
          ...options.engine,
          stats,
          onEvent: (e) => events.push(e),
          onRequest,
        });
        connections.add(h2);
        await h2.closed;
        connections.delete(h2);
      })();
    }
  })();
  const port = (listener.addr as Deno.NetAddr).port;
  let closing: Promise<void> | null = null;
  const close = () =>
    closing ??= (async () => {
      listener.close();
      await serving.catch(() => {});
      for (const c of connections) c.close();
      await Promise.all([...connections].map((c) => c.closed));
    })();
  return {
    port,
    url: `${tls ? "https" : "http"}://127.0.0.1:${port}`,
    caPem: pki.caPem,
    stats,
    events,
    get accepted() {
      return accepted;
    },
    connections,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** The built-in routes (see the module doc), for handlers that add their own in front. */
export function routes(req: H2Request): void {
  void route(req).catch(() => {
    // The client went away or reset the stream: nothing left to answer.
  });
}

async function route(req: H2Request): Promise<void> {
  const text = (s: string) => new TextEncoder().encode(s);
  const plain = () => HeaderList.from([["content-type", "text/plain"]]);
  if (req.method === "POST" || req.method === "PUT" || req.method === "CONNECT") {
    const body = req.body;
    const type = req.headers.get("content-type") ?? "application/octet-stream";
    await req.respond({
      status: 200,
      headers: HeaderList.from([["content-type", type]]),
      body: body ?? new Uint8Array(0),
      trailers: body === null ? null : () => req.trailers,
    });
    return;
  }
  const path = req.path.split("?")[0];
  if (path === "/trailers") {
    await req.respond({
      status: 200,
      headers: plain(),
      body: text("with trailers\n"),
      trailers: () => HeaderList.from([["x-trailer", "done"], ["grpc-status", "0"]]),
    });
    return;
  }
  const bytes = /^\/bytes\/(\d+)$/.exec(path);
  if (bytes) {
    await req.respond({ status: 200, headers: plain(), body: patternBody(Number(bytes[1])) });
    return;
  }
  const status = /^\/status\/(\d{3})$/.exec(path);
  if (status) {
    await req.respond({
      status: Number(status[1]),
      headers: plain(),
      body: text(`status ${status[1]}\n`),
    });
    return;
  }
  await req.respond({ status: 200, headers: plain(), body: HELLO });
}

/** `total` bytes of the pattern 0, 1, ..., 250, 0, 1, ... in 64 KiB chunks (one reused array). */
export function patternBody(total: number): BodyReader {
  const chunk = new Uint8Array(64 * 1024).map((_, i) => i % 251);
  let sent = 0;
  const next = () => {
    if (sent >= total) return null;
    const offset = sent % 251;
    const n = Math.min(chunk.length - offset, total - sent);
    sent += n;
    return chunk.subarray(offset, offset + n);
  };
  return {
    length: total,
    read: () => Promise.resolve(next()),
    cancel: () => void (sent = total),
  };
}
