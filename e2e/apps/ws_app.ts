/**
 * Demo WebSocket app behind Gatehouse: every message on a WebSocket to any path comes back
 * unchanged (text stays text, binary stays binary). A plain GET answers {app, hostname, path};
 * /healthz answers "ok". Listens on $PORT (8000).
 *
 * @module
 */
import { serveUntilSigterm } from "./serve.ts";

const app = Deno.env.get("APP_NAME") ?? "ws";
const hostname = Deno.hostname();

/** Answers one request: WebSocket upgrades echo, anything else describes the app. */
export function handle(req: Request): Response {
  const path = new URL(req.url).pathname;
  if (path === "/healthz") return new Response("ok\n");
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return Response.json({ app, hostname, path, hint: "connect with a WebSocket client" });
  }
  const { socket, response } = Deno.upgradeWebSocket(req);
  socket.binaryType = "arraybuffer";
  socket.onmessage = (event) => socket.send(event.data);
  return response;
}

if (import.meta.main) serveUntilSigterm(handle);
