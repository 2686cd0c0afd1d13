/**
 * Demo HTTP app behind Gatehouse (compose and e2e tests). Listens on $PORT (8000).
 *
 *   GET  /                 {app, hostname, path}: which app and container answered
 *   GET  /api/time         the current time
 *   ANY  /api/echo         the request body back, with its content type
 *   GET  /download/:bytes  a stream of that many bytes (download.ts), for integrity checks
 *   GET  /slow?ms=N        answers after N milliseconds (in-flight requests during a drain)
 *   GET  /headers          the request headers as JSON (what the proxy forwarded)
 *   GET  /healthz          "ok"
 *
 * $APP_NAME names the app in answers (default "app"). SIGTERM stops it gracefully.
 *
 * @module
 */
import { downloadStream } from "./download.ts";
import { serveUntilSigterm } from "./serve.ts";

const app = Deno.env.get("APP_NAME") ?? "app";
const hostname = Deno.hostname();

function json(value: unknown, status = 200): Response {
  return Response.json(value, { status, headers: { "cache-control": "no-store" } });
}

/** Answers one request of the demo app. */
export async function handle(req: Request): Promise<Response> {
  const url = new URL(req.url);
  const path = url.pathname;
  if (path === "/healthz") return new Response("ok\n");
  if (path === "/api/time") return json({ app, hostname, now: new Date().toISOString() });
  if (path === "/api/echo") {
    const type = req.headers.get("content-type") ?? "application/octet-stream";
    return new Response(req.body, { headers: { "content-type": type } });
  }
  if (path === "/headers") return json(Object.fromEntries(req.headers));
  if (path === "/slow") {
    const ms = Math.min(Number(url.searchParams.get("ms") ?? "1000") || 0, 60_000);
    await new Promise((resolve) => setTimeout(resolve, ms));
    return json({ app, hostname, sleptMs: ms });
  }
  const size = /^\/download\/(\d+)$/.exec(path);
  if (size) {
    return new Response(downloadStream(Number(size[1])), {
      headers: { "content-type": "application/octet-stream", "content-length": size[1] },
    });
  }
  if (path === "/" || req.method === "GET") return json({ app, hostname, path });
  return json({ error: `no route for ${req.method} ${path}` }, 404);
}

if (import.meta.main) serveUntilSigterm(handle);
