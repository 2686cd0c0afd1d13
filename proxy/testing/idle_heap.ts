/**
 * Run with `--v8-flags=--expose-gc` by proto/idle_heap_test.ts: what an idle keep-alive
 * connection costs in JavaScript heap and buffers, served by the real HTTP/1.1 engine, by the
 * HTTP/2 engine (h2c) and, for comparison, by the least a server can do (one pending read after
 * its answer). The clients are another process (idle_clients.py), so only the server side is
 * counted. Prints bytes per connection.
 */
import { HeaderList } from "../proto/header_list.ts";
import { serveH2 } from "../proto/h2/server.ts";
import { proxyResponse } from "../proto/responses.ts";
import { serveWithEngine } from "./h1_engine.ts";

const gc = (globalThis as unknown as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");

const CLIENTS = new URL("./idle_clients.py", import.meta.url).pathname;
const COUNT = 1000;
const OK = new TextEncoder().encode("ok");
const ANSWER = new TextEncoder().encode("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");

/** Serves one request, then waits on the next read forever (until the connection closes). */
async function leastServer(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(1024);
  try {
    await conn.read(buf);
    await conn.write(ANSWER);
    await conn.read(buf);
  } catch {
    // closed at the end
  }
}

/** Bytes (heap and buffers) per idle connection of `serve`, past a warm-up batch. */
async function perConnection(
  serve: (conn: Deno.Conn) => void,
  protocol: "h1" | "h2" = "h1",
): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = (async () => {
    for await (const conn of listener) serve(conn);
  })();
  const port = (listener.addr as Deno.NetAddr).port;
  const warm = await hold(port, 200, protocol);
  await settle();
  const before = heldBytes();
  const measured = await hold(port, COUNT, protocol);
  await settle();
  const after = heldBytes();
  listener.close();
  await accepting.catch(() => {});
  await warm.release();
  await measured.release();
  return (after - before) / COUNT;
}

async function hold(
  port: number,
  count: number,
  protocol: "h1" | "h2",
): Promise<{ release(): Promise<void> }> {
  const child = new Deno.Command("python3", {
    args: [CLIENTS, String(port), String(count), protocol],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  if (!new TextDecoder().decode(value).startsWith("ready")) {
    throw new Error(`idle_clients.py ended (exit ${(await child.status).code}) before "ready"`);
  }
  return {
    async release() {
      await child.stdin.close();
      reader.releaseLock();
      await child.stdout.cancel();
      await child.status;
    },
  };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    gc!();
  }
}

/** The isolate's live objects and the buffers they hold (outside V8's heap). */
function heldBytes(): number {
  const { heapUsed, external } = Deno.memoryUsage();
  return heapUsed + external;
}

const h1 = await perConnection((conn) => {
  serveWithEngine(conn, () => conn.close(), () => Promise.resolve(proxyResponse(200, "ok")))
    .catch(() => {});
});
const h2 = await perConnection((conn) => {
  serveH2(conn, {
    onRequest: (req) =>
      void req.respond({
        status: 200,
        headers: HeaderList.from([["content-type", "text/plain"]]),
        body: OK,
      }),
  });
}, "h2");
const least = await perConnection((conn) => void leastServer(conn));
console.log(
  JSON.stringify({ h1: Math.round(h1), h2: Math.round(h2), least: Math.round(least) }),
);
Deno.exit(0);
