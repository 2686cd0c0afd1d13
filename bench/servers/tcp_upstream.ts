/**
 * Raw TCP upstreams for the bench:
 * `deno run --allow-net bench/servers/tcp_upstream.ts SOURCE_PORT ECHO_PORT`.
 *
 * - SOURCE_PORT: the client sends a decimal byte count and "\n"; the server sends that many
 *   bytes, then closes its write side.
 * - ECHO_PORT: every byte received is sent back; EOF from the client closes the connection.
 *
 * @module
 */
const [sourcePort, echoPort] = Deno.args.map(Number);
if (!(sourcePort > 0 && echoPort > 0)) {
  console.error("Usage: tcp_upstream.ts SOURCE_PORT ECHO_PORT");
  Deno.exit(2);
}

const CHUNK = new Uint8Array(256 * 1024).fill(0x61);

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

async function source(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(64);
  let line = "";
  while (!line.includes("\n")) {
    const n = await conn.read(buf);
    if (n === null) return;
    line += new TextDecoder().decode(buf.subarray(0, n));
  }
  let left = Number(line.slice(0, line.indexOf("\n")));
  while (left > 0) {
    const part = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
    await writeAll(conn, part);
    left -= part.length;
  }
  await conn.closeWrite();
  while ((await conn.read(buf)) !== null) {
    // Drain until the client closes.
  }
}

async function echo(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) return;
    await writeAll(conn, buf.subarray(0, n));
  }
}

/**
 * Accepts until the process ends. An accept error (a client that reset before being accepted
 * makes Deno throw NotConnected) is skipped: `for await` over the listener would stop for good.
 */
async function serve(port: number, handle: (conn: Deno.Conn) => Promise<void>): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  for (;;) {
    let conn: Deno.TcpConn;
    try {
      conn = await listener.accept();
    } catch {
      continue;
    }
    conn.setNoDelay(true);
    handle(conn).catch(() => {}).finally(() => {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    });
  }
}

await Promise.all([serve(sourcePort, source), serve(echoPort, echo)]);
