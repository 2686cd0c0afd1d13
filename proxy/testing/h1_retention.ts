/**
 * Run with `--v8-flags=--expose-gc` by server_retention_test.ts: serves one request on a
 * keep-alive connection with the real HTTP/1.1 engine, leaves the connection idle, and prints
 * whether the request's objects could be collected while the connection waits.
 */
import { proxyResponse } from "../proto/responses.ts";
import { serveWithEngine } from "./h1_engine.ts";

const gc = (globalThis as unknown as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");

let request: WeakRef<object> | null = null;
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const served = (async () => {
  const conn = await listener.accept();
  await serveWithEngine(conn, () => conn.close(), (req) => {
    request = new WeakRef(req.headers);
    return Promise.resolve(proxyResponse(200, "ok"));
  });
})();

const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
const big = "x".repeat(16 * 1024);
await client.write(new TextEncoder().encode(`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${big}\r\n\r\n`));
const buf = new Uint8Array(4096);
let text = "";
while (!text.endsWith("ok")) {
  text += new TextDecoder().decode(buf.subarray(0, (await client.read(buf))!));
}

// The connection stays open and idle: the engine waits for the next request.
let released = false;
for (let i = 0; i < 20 && !released; i++) {
  await new Promise((r) => setTimeout(r, 10));
  gc();
  released = request !== null && (request as WeakRef<object>).deref() === undefined;
}
console.log(JSON.stringify({ answered: text.startsWith("HTTP/1.1 200"), released }));
client.close();
await served;
listener.close();
