/**
 * Demo TCP echo service: every byte a client sends comes back; when the client closes its
 * sending side, the rest is echoed and then this side closes too (half-close). Listens on
 * 0.0.0.0:$PORT (7000); SIGTERM stops it.
 *
 * @module
 */

/** Echoes `conn` until the peer closes its side, then closes ours. */
export async function echo(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
      for (let off = 0; off < n;) off += await conn.write(buffer.subarray(off, n));
    }
    await conn.closeWrite();
  } catch {
    // The peer reset the connection: nothing left to echo.
  } finally {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

if (import.meta.main) {
  const port = Number(Deno.env.get("PORT") ?? "7000");
  const listener = Deno.listen({ hostname: "0.0.0.0", port });
  console.log(`tcp echo listening on :${port}`);
  const stop = () => Deno.exit(0);
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  for await (const conn of listener) void echo(conn);
}
