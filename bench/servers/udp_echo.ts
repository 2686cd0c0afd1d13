/**
 * UDP echo upstream for the bench: `deno run --allow-net --unstable-net bench/servers/udp_echo.ts
 * PORT`. Every datagram received on 127.0.0.1:PORT is sent back whole to its sender.
 *
 * @module
 */
const port = Number(Deno.args[0]);
if (!(port > 0)) {
  console.error("Usage: udp_echo.ts PORT");
  Deno.exit(2);
}

const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port });
for (;;) {
  const [data, from] = await socket.receive();
  // A send error (the sender's port closed) must not stop the echo for everyone else.
  await socket.send(data, from).catch(() => {});
}
