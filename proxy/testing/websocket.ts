/**
 * WebSocket peers for tests, both Deno's own implementation:
 * - `wsUpstream`: a Deno.upgradeWebSocket server on 127.0.0.1:0 that echoes every message and
 *   records each upgrade request and each close it saw (other requests get 200 "plain").
 * - `openWebSocket`: a client with a message queue and a promise of its close.
 *
 * ```ts
 * await using up = await wsUpstream({ protocols: ["chat.v2"] });
 * // ... route a proxy to up.url ...
 * await using ws = await openWebSocket(`ws://127.0.0.1:${port}/`);
 * ws.send("hi");
 * assert.equal(await ws.next(), "hi");
 * ```
 *
 * @module
 */
import { testPki } from "./certs.ts";
import { within } from "./tcp_peers.ts";

/** How a close looked from one side. */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

/** An upgrade request as the upstream saw it, and how its session ended. */
export interface WsSession {
  /** Path and query. */
  readonly target: string;
  readonly headers: Headers;
  readonly socket: WebSocket;
  /** Resolves when the upstream's socket closed. */
  readonly closed: Promise<CloseInfo>;
}

export interface WsUpstreamOptions {
  /** Subprotocols the upstream supports, best first; it picks the first one the client offers. */
  readonly protocols?: readonly string[];
  /** Runs on each new socket instead of the default echo. */
  readonly onSocket?: (socket: WebSocket, session: WsSession) => void;
  /** Serve wss with the test CA's certificate for localhost and 127.0.0.1 (default false). */
  readonly tls?: boolean;
}

export interface WsUpstream extends AsyncDisposable {
  readonly port: number;
  /** "http://127.0.0.1:<port>" (or https), for a service's servers. */
  readonly url: string;
  readonly sessions: WsSession[];
  /** Sockets open now. */
  readonly open: number;
  close(): Promise<void>;
}

/** A Deno.upgradeWebSocket upstream that echoes text and binary messages (see the module doc). */
export async function wsUpstream(options: WsUpstreamOptions = {}): Promise<WsUpstream> {
  const sessions: WsSession[] = [];
  let open = 0;
  const tls = options.tls ? await (await testPki()).leaf() : null;
  const listen = { hostname: "127.0.0.1", port: 0, onListen() {} };
  const server = Deno.serve(
    tls ? { ...listen, cert: tls.certPem, key: tls.keyPem } : listen,
    (req) => {
      if (req.headers.get("upgrade") === null) return new Response("plain");
      const offered = (req.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) =>
        p.trim()
      );
      const protocol = options.protocols?.find((p) => offered.includes(p));
      const url = new URL(req.url);
      const headers = new Headers(req.headers);
      const { socket, response } = Deno.upgradeWebSocket(req, { protocol, idleTimeout: 0 });
      open++;
      const closed = new Promise<CloseInfo>((resolve) => {
        socket.addEventListener("close", (e) => {
          open--;
          resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean });
        });
      });
      const session = { target: url.pathname + url.search, headers, socket, closed };
      sessions.push(session);
      if (options.onSocket) options.onSocket(socket, session);
      else socket.onmessage = (e) => socket.send(e.data);
      return response;
    },
  );
  let closing: Promise<void> | null = null;
  const close = () =>
    closing ??= (async () => {
      for (const s of sessions) if (s.socket.readyState <= WebSocket.OPEN) s.socket.close();
      await server.shutdown();
    })();
  return {
    port: server.addr.port,
    url: `${tls ? "https" : "http"}://127.0.0.1:${server.addr.port}`,
    sessions,
    get open() {
      return open;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A message as the client received it: text, or bytes for binary frames. */
export type WsMessage = string | Uint8Array;

export interface WsClientOptions {
  readonly protocols?: string[];
  readonly headers?: HeadersInit;
}

/** A connected client: queued messages, its close as a promise. */
export interface WsClient extends AsyncDisposable {
  readonly socket: WebSocket;
  /** Resolves when the socket closed (either side, or the connection dropped). */
  readonly closed: Promise<CloseInfo>;
  send(data: string | Uint8Array): void;
  /** The next message; rejects if the socket closes first or nothing comes within `timeoutMs`. */
  next(timeoutMs?: number): Promise<WsMessage>;
  /** Closes (if open) and waits for the close to complete. */
  close(code?: number, reason?: string): Promise<CloseInfo>;
}

/** Opens a Deno WebSocket to `url`; wss:// trusts the test CA. Rejects when the handshake fails. */
export async function openWebSocket(url: string, options: WsClientOptions = {}): Promise<WsClient> {
  const client = url.startsWith("wss:")
    ? Deno.createHttpClient({ caCerts: [(await testPki()).caPem] })
    : undefined;
  const socket = new WebSocket(url, { ...options, client } as WebSocketOptions);
  socket.binaryType = "arraybuffer";
  const queue: WsMessage[] = [];
  const waiters: (() => void)[] = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  socket.onmessage = (e) => {
    queue.push(typeof e.data === "string" ? e.data : new Uint8Array(e.data));
    wake();
  };
  const closed = new Promise<CloseInfo>((resolve) => {
    socket.onclose = (e) => {
      client?.close();
      resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean });
      wake();
    };
  });
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = (e) => reject(new Error(`Cannot open ${url}: ${(e as ErrorEvent).message}`));
  });
  socket.onerror = null;
  let isClosed = false;
  closed.then(() => isClosed = true);
  const next = async (timeoutMs = 10_000): Promise<WsMessage> => {
    const end = Date.now() + timeoutMs;
    while (queue.length === 0) {
      if (isClosed) throw new Error("the socket closed before the next message");
      const left = end - Date.now();
      if (left <= 0) throw new Error(`no message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return queue.shift()!;
  };
  const close = (code?: number, reason?: string) => {
    if (socket.readyState <= WebSocket.OPEN) socket.close(code, reason);
    return within(10_000, `the close of ${url}`, closed);
  };
  return {
    socket,
    closed,
    send: (data) => socket.send(data),
    next,
    close,
    [Symbol.asyncDispose]: async () => void await close(),
  };
}
