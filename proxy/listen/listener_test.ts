import assert from "node:assert/strict";
import { startGatehouse } from "../testing/gatehouse.ts";
import { parseExposition, sampleValue } from "../testing/prometheus.ts";
import { waitFor } from "../testing/servers.ts";
import { tcpUpstream } from "../testing/tcp_peers.ts";

/** Opens a connection and tells whether the listener closed it at once (read gives EOF). */
async function closedAtOnce(port: number): Promise<{ conn: Deno.Conn; closed: boolean }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const read = conn.read(new Uint8Array(1)).then((n) => n === null, () => true);
  const timeout = new Promise<false>((r) => setTimeout(() => r(false), 300));
  return { conn, closed: await Promise.race([read, timeout]) };
}

// With worker isolates the limits count the connections of all workers together.
for (const workers of [1, 2]) {
  Deno.test(`HTTP and TCP listeners refuse connections over max_connections alike, and count them (workers: ${workers})`, async () => {
    await using echo = tcpUpstream();
    await using gh = await startGatehouse(
      `
      entrypoints:
        web: { address: "127.0.0.1:0", max_connections: 2 }
        db: { address: "127.0.0.1:0", protocol: tcp, max_connections: 1 }
        admin: { address: "127.0.0.1:0" }
      routes: [{ match: { path: /metrics }, entrypoints: [admin], service: metrics@internal }]
      tcp_routes: [{ entrypoints: [db], service: db }]
      services: { db: { servers: ["tcp://127.0.0.1:${echo.port}"] } }
    `,
      false,
      workers,
    );
    const open: Deno.Conn[] = [];
    const over = workers === 1 ? 1 : 8;
    try {
      for (const [name, limit] of [["web", 2], ["db", 1]] as const) {
        for (let i = 0; i < limit; i++) {
          const kept = await closedAtOnce(gh.port(name));
          open.push(kept.conn);
          assert.equal(kept.closed, false, `${name} connection ${i + 1} is kept`);
        }
        await waitFor(() => gh.gatehouse.runtime.clients.count(name) === limit, `${name} open`);
        // Several tries with workers: the kernel sends them to either worker.
        for (let i = 0; i < over; i++) {
          const refused = await closedAtOnce(gh.port(name));
          open.push(refused.conn);
          assert.equal(refused.closed, true, `${name}: the connection over the limit is closed`);
        }
      }
      const res = await fetch(`http://127.0.0.1:${gh.port("admin")}/metrics`);
      const samples = await parseExposition(await res.text());
      for (const entrypoint of ["web", "db"]) {
        const count = sampleValue(samples, "gatehouse_connections_refused_total", {
          entrypoint,
          reason: "entrypoint_max_connections",
        });
        assert.equal(count, over, entrypoint);
      }
    } finally {
      for (const c of open) c.close();
    }
  });
}
