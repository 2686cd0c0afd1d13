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

// One client address over every entrypoint, and over both workers.
for (const workers of [1, 2]) {
  Deno.test(`max_connections_per_client: one address past its limit is refused on every entrypoint, and counted (workers: ${workers})`, async () => {
    await using echo = tcpUpstream();
    await using gh = await startGatehouse(
      `
      entrypoints:
        web: { address: "127.0.0.1:0" }
        db: { address: "127.0.0.1:0", protocol: tcp }
        admin: { address: "127.0.0.1:0" }
      routes: [{ match: { path: /metrics }, entrypoints: [admin], service: metrics@internal }]
      tcp_routes: [{ entrypoints: [db], service: db }]
      services: { db: { servers: ["tcp://127.0.0.1:${echo.port}"] } }
      limits: { max_connections_per_client: 3 }
    `,
      false,
      workers,
    );
    const open: Deno.Conn[] = [];
    const over = workers === 1 ? 1 : 8;
    try {
      for (const name of ["web", "web", "db"]) {
        const kept = await closedAtOnce(gh.port(name));
        open.push(kept.conn);
        assert.equal(kept.closed, false, `a ${name} connection within the limit is kept`);
      }
      await waitFor(() => gh.gatehouse.runtime.clients.count() === 3, "three open");
      for (const name of ["web", "db"]) {
        for (let i = 0; i < over; i++) {
          const refused = await closedAtOnce(gh.port(name));
          open.push(refused.conn);
          assert.equal(refused.closed, true, `${name}: the client's connection over its limit`);
        }
      }
      // A close frees a place of the address (the scrape below takes it: it comes from the
      // same address).
      open.shift()!.close();
      await waitFor(() => gh.gatehouse.runtime.clients.count() === 2, "one closed");
      const res = await fetch(`http://127.0.0.1:${gh.port("admin")}/metrics`);
      const samples = await parseExposition(await res.text());
      for (const entrypoint of ["web", "db"]) {
        const count = sampleValue(samples, "gatehouse_connections_refused_total", {
          entrypoint,
          reason: "max_connections_per_client",
        });
        assert.equal(count, over, entrypoint);
      }
      open.shift()!.close();
      await waitFor(async () => {
        const again = await closedAtOnce(gh.port("web"));
        open.push(again.conn);
        return !again.closed;
      }, "a place free again");
    } finally {
      for (const c of open) c.close();
    }
  });
}
