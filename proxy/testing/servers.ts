/**
 * Upstream servers for tests, on 127.0.0.1 (port 0 unless told):
 * - `httpUpstream`: Deno.serve; records every request and the connection it came on.
 * - `rawUpstream`: Deno.listen; reads requests itself and lets the test write any bytes back
 *   (hop-by-hop fields, exact gzip bytes, chunked events, resets, silence).
 *
 * ```ts
 * await using up = httpUpstream((req) => new Response("hi"));
 * // ... point a service at up.url, send requests through the proxy ...
 * assert.equal(up.requests.length, 1);
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { type Head, readBody, readHead, WireReader, writeAll } from "./wire.ts";

/** A request as an upstream saw it. */
export interface SeenRequest {
  readonly method: string;
  /** Path and query. */
  readonly target: string;
  readonly headers: Headers;
  /** The client port of the connection it came on: one per proxy-to-upstream connection. */
  readonly remotePort: number;
  /** Aborts when the proxy closes the connection before the response is complete. */
  readonly signal: AbortSignal;
}

export type UpstreamHandler = (req: Request, seen: SeenRequest) => Response | Promise<Response>;

export interface UpstreamOptions {
  /** Fixed port (to restart a server where it was); default 0. */
  readonly port?: number;
  /** Body of the default answer and value of its `x-upstream` header; default "ok". */
  readonly name?: string;
}

export interface HttpUpstream extends AsyncDisposable {
  readonly port: number;
  /** "http://127.0.0.1:<port>". */
  readonly url: string;
  readonly name: string;
  readonly requests: SeenRequest[];
  /** Distinct connections the requests came on. */
  readonly connections: number;
  close(): Promise<void>;
}

/** A Deno.serve upstream; without a handler it answers 200 with its name. */
export function httpUpstream(
  handler?: UpstreamHandler,
  options: UpstreamOptions = {},
): HttpUpstream {
  const name = options.name ?? "ok";
  const requests: SeenRequest[] = [];
  const ports = new Set<number>();
  const respond: UpstreamHandler = handler ??
    (() => new Response(name, { headers: { "x-upstream": name } }));
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: options.port ?? 0,
    automaticCompression: false,
    onListen() {},
  }, (req, info) => {
    const url = new URL(req.url);
    const seen: SeenRequest = {
      method: req.method,
      target: url.pathname + url.search,
      headers: req.headers,
      remotePort: info.remoteAddr.port,
      signal: req.signal,
    };
    requests.push(seen);
    ports.add(seen.remotePort);
    return respond(req, seen);
  });
  const port = server.addr.port;
  let closed: Promise<void> | null = null;
  const close = () => closed ??= server.shutdown();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    name,
    requests,
    get connections() {
      return ports.size;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** An upstream answering "got <n>" with each request body's size ("cut off" when it broke). */
export function sizeUpstream(): HttpUpstream {
  return httpUpstream(async (req) => {
    const body = await req.bytes().catch(() => null);
    return new Response(body === null ? "cut off" : `got ${body.length}`);
  });
}

/** A request as a raw upstream read it. */
export interface RawRequest extends Head {
  readonly method: string;
  readonly target: string;
  /** The body, decoded from its framing. */
  readonly body: Uint8Array;
  /** The body's bytes as received, framing (chunk sizes, trailers) included. */
  readonly wireBody: Uint8Array;
}

/** The connection a raw request came on. */
export interface RawConnection {
  readonly conn: Deno.Conn;
  /** Writes bytes (strings as UTF-8); rejects when the connection broke. */
  write(data: string | Uint8Array): Promise<void>;
  /** Closes the connection; the upstream reads no further request from it. */
  close(): void;
}

/**
 * Answers one request; the connection then waits for the next request until either side closes
 * it (so a responder that writes nothing leaves the request unanswered).
 */
export type RawResponder = (req: RawRequest, conn: RawConnection) => void | Promise<void>;

export interface RawUpstream extends AsyncDisposable {
  readonly port: number;
  readonly url: string;
  readonly requests: RawRequest[];
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections open now. */
  readonly open: number;
  close(): Promise<void>;
}

/** A raw upstream: every request is read, recorded and handed to `respond`. */
export function rawUpstream(respond: RawResponder, options: UpstreamOptions = {}): RawUpstream {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: options.port ?? 0 });
  const port = listener.addr.port;
  const requests: RawRequest[] = [];
  const conns = new Set<RawConnection>();
  const tasks = new Set<Promise<void>>();
  let accepted = 0;

  const serve = async (conn: Deno.Conn) => {
    let closed = false;
    const raw: RawConnection = {
      conn,
      write: (data) => writeAll(conn, data),
      close() {
        if (closed) return;
        closed = true;
        try {
          conn.close();
        } catch {
          // already closed by a failed read or write
        }
      },
    };
    conns.add(raw);
    try {
      const reader = new WireReader(conn);
      while (!closed) {
        const head = await readHead(reader);
        if (head === null) break;
        const [method, target] = head.startLine.split(" ");
        const [body, wireBody] = await reader.recording(() => readBody(reader, head, false));
        const req = { ...head, method, target, body, wireBody };
        requests.push(req);
        await respond(req, raw);
      }
    } catch {
      // the proxy closed or reset the connection
    } finally {
      conns.delete(raw);
      raw.close();
    }
  };

  const acceptLoop = (async () => {
    try {
      for await (const conn of listener) {
        accepted++;
        const task = serve(conn).finally(() => tasks.delete(task));
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
      for (const raw of conns) raw.close();
      await acceptLoop;
      await Promise.all(tasks);
    })();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    get accepted() {
      return accepted;
    },
    get open() {
      return conns.size;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A complete response head and body as bytes, with Content-Length set. */
export function rawResponse(
  status: number,
  fields: readonly (readonly [string, string])[],
  body: string | Uint8Array = "",
): Uint8Array {
  const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
  const head = `HTTP/1.1 ${status} ${status === 200 ? "OK" : "Other"}\r\n` +
    fields.map(([n, v]) => `${n}: ${v}\r\n`).join("") +
    `Content-Length: ${bytes.length}\r\n\r\n`;
  const out = new Uint8Array(head.length + bytes.length);
  out.set(new TextEncoder().encode(head));
  out.set(bytes, head.length);
  return out;
}

/** A port nothing listens on, reserved for this test process (see `closedPorts`). */
/** Sockets listening on TCP `port` (IPv4) in this network namespace (/proc/net/tcp). */
export async function listeningSockets(port: number): Promise<number> {
  const local = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  const LISTEN = "0A";
  return (await Deno.readTextFile("/proc/net/tcp")).split("\n").slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length > 3 && f[1].endsWith(local) && f[3] === LISTEN).length;
}

export function closedPort(): number {
  return closedPorts(1)[0];
}

/**
 * `n` distinct ports nothing listens on, each reserved for this test process. Ports the kernel
 * hands out for port 0 would not do: one released is soon handed out again, to another test
 * process running in parallel, and Gatehouse binds with SO_REUSEPORT, so two proxies given the
 * same port both start and share its connections (a test then saw its request answered by
 * another test's proxy, or a plain-HTTP listener answer its TLS handshake). These come from
 * below the kernel's ephemeral range, which port-0 binds never use, and a lock file per port
 * (created exclusively in a shared temporary directory) keeps concurrent test processes apart.
 */
export function closedPorts(n: number): number[] {
  // Distinct: a port's lock file exists from its first reservation on.
  return Array.from({ length: n }, reservePort);
}

const PORT_LOCKS = join(Deno.env.get("TMPDIR") ?? "/tmp", "gatehouse-test-ports");
/** Locks older than this belong to test runs that ended without removing them (killed). */
const STALE_LOCK_MS = 30 * 60_000;
/** This process's locks, removed when it exits (its tests have closed their servers by then). */
const held: string[] = [];

/** The ports to reserve from: 12,000 below the kernel's ephemeral range (32768 by default). */
let reservable: { low: number; high: number } | undefined;

function portRange(): { low: number; high: number } {
  if (reservable !== undefined) return reservable;
  let high = 32768;
  try {
    const [low] = Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range").trim().split(
      /\s+/,
    );
    high = Number(low) || high;
  } catch {
    // not Linux, or /proc not readable: the Linux default
  }
  Deno.mkdirSync(PORT_LOCKS, { recursive: true });
  globalThis.addEventListener("unload", () => {
    for (const lock of held) {
      try {
        Deno.removeSync(lock);
      } catch {
        // already gone
      }
    }
  });
  return reservable = { low: Math.max(1024, high - 12_000), high };
}

/** Age of `lock` in ms, or null when another process removed it meanwhile. */
function lockAge(lock: string): number | null {
  try {
    return Date.now() - (Deno.statSync(lock).mtime?.getTime() ?? 0);
  } catch {
    return null;
  }
}

function reservePort(): number {
  const { low, high } = portRange();
  for (let attempt = 0; attempt < 1000; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    const lock = join(PORT_LOCKS, String(port));
    try {
      Deno.openSync(lock, { write: true, createNew: true }).close();
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
      // A stale lock is removed for a later attempt, never taken over: two processes could.
      const age = lockAge(lock);
      if (age !== null && age >= STALE_LOCK_MS) {
        try {
          Deno.removeSync(lock);
        } catch {
          // another process removed it first
        }
      }
      continue;
    }
    held.push(lock);
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch {
      // Something outside the tests holds it: keep the lock for this run, so that it is not tried
      // again, and move on.
    }
  }
  throw new Error(`Cannot reserve a free port below ${high} (locks in ${PORT_LOCKS})`);
}

/** Polls `check` every 20 ms until it returns true; fails after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 3000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Waits until `value()` has not changed over two polls `everyMs` apart (a producer that was held
 * back stopped), then returns it.
 */
export async function waitForSteady(
  value: () => number | Promise<number>,
  what: string,
  timeoutMs = 20_000,
  everyMs = 200,
): Promise<number> {
  let last = -1;
  let steady = false;
  await waitFor(
    async () => {
      const now = await value();
      await new Promise((r) => setTimeout(r, everyMs));
      steady = now === await value() && now === last;
      last = now;
      return steady;
    },
    what,
    timeoutMs,
  );
  return last;
}
