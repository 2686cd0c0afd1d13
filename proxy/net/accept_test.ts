import assert from "node:assert/strict";
import { proxyFor, tlsClient } from "../testing/proxy.ts";
import { SYSTEM_PYTHON } from "../testing/prometheus.ts";
import { httpUpstream, listeningSockets } from "../testing/servers.ts";
import { AcceptLoops } from "./accept.ts";

/** Connects `count` times to `port` and resets each connection at once (SO_LINGER 0). */
async function resetStorm(port: number, count: number): Promise<void> {
  const script = `
import socket, struct, sys
for _ in range(int(sys.argv[2])):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.connect(("127.0.0.1", int(sys.argv[1])))
    s.close()
`;
  const { code } = await new Deno.Command(SYSTEM_PYTHON, {
    args: ["-c", script, String(port), String(count)],
  }).output();
  assert.equal(code, 0);
}

Deno.test("clients that reset before being accepted do not stop an entrypoint", async () => {
  await using up = httpUpstream();
  await using gw = await proxyFor([up.url]);
  const client = await tlsClient("1.1");
  try {
    for (const name of ["web", "websecure"]) {
      await resetStorm(gw.port(name), 300);
      const res = await fetch(gw.url("/", name), { client, signal: AbortSignal.timeout(5000) });
      assert.equal(res.status, 200, name);
      await res.body?.cancel();
    }
  } finally {
    client.close();
  }
});

Deno.test("AcceptLoops: ended() resolves once the closed listeners' sockets are closed", async () => {
  // Deno closes a listener's socket only when its pending accept has ended, a turn or more after
  // close(): until then the socket still takes the port's new connections (SO_REUSEPORT).
  const loops = new AcceptLoops();
  const listeners = [0, 1].map(() =>
    Deno.listen({ hostname: "127.0.0.1", port: 0, reusePort: true })
  );
  for (const listener of listeners) loops.start(listener, (conn) => conn.close());
  const ports = listeners.map((l) => l.addr.port);
  assert.deepEqual(await Promise.all(ports.map(listeningSockets)), [1, 1]);
  for (const listener of listeners) listener.close();
  await loops.ended();
  assert.deepEqual(await Promise.all(ports.map(listeningSockets)), [0, 0]);
});
