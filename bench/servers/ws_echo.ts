/**
 * WebSocket echo upstream for the bench: `deno run --allow-net bench/servers/ws_echo.ts PORT`.
 * Answers every upgrade on any path and sends each message back as it came (text or binary).
 *
 * @module
 */
const port = Number(Deno.args[0]);
if (!Number.isInteger(port) || port <= 0) {
  console.error("Usage: ws_echo.ts PORT");
  Deno.exit(2);
}

Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, (request) => {
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response("WebSocket echo: send an upgrade request\n", { status: 426 });
  }
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.binaryType = "arraybuffer";
  socket.onmessage = (event) => socket.send(event.data);
  socket.onerror = () => {};
  return response;
});
