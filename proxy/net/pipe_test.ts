import assert from "node:assert/strict";
import { tunnelBuffers } from "./buffer_pool.ts";
import type { ByteConn } from "./buffered_conn.ts";
import { LARGE_IN_USE, largeBuffersInUse, pipeBoth, SMALL_BUFFER } from "./pipe.ts";

/** A connected loopback pair: [the side we keep, the side the pipe gets]. */
async function pair(): Promise<[Deno.Conn, Deno.Conn]> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const outer = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  return [outer, await listener.accept()];
}

/** What the reads of a recorded connection did. */
interface Reads {
  /** Buffer size of every read. */
  sizes: number[];
  /** Buffer size of the read under way, null when none is. */
  waiting: number | null;
}

/** `conn`, remembering the size of the buffer each read waits in. */
function recording(conn: Deno.Conn, reads: Reads): ByteConn {
  return {
    read(p) {
      reads.sizes.push(p.length);
      reads.waiting = p.length;
      return conn.read(p).finally(() => reads.waiting = null);
    },
    write: (p) => conn.write(p),
    closeWrite: () => conn.closeWrite(),
    close: () => conn.close(),
  };
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

async function readExactly(conn: Deno.Conn, n: number): Promise<number> {
  const buf = new Uint8Array(64 * 1024);
  let got = 0;
  while (got < n) {
    const r = await conn.read(buf);
    if (r === null) break;
    got += r;
  }
  return got;
}

async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

Deno.test("a tunnel streams through a pooled buffer and waits for data in its small one", async () => {
  const [client, clientSide] = await pair();
  const [upstream, upstreamSide] = await pair();
  const reads: Reads = { sizes: [], waiting: null };
  const sizes = reads.sizes;
  const piped = pipeBoth(recording(clientSide, reads), upstreamSide, {
    idleMs: 0,
    setDeadline: () => {},
  });
  try {
    const size = 4 * 1024 * 1024;
    const [, got] = await Promise.all([
      writeAll(client, new Uint8Array(size)),
      readExactly(upstream, size),
    ]);
    assert.equal(got, size);
    assert.ok(
      sizes.includes(tunnelBuffers.size),
      `no read went into a pooled buffer: ${[...new Set(sizes)]}`,
    );
    // Idle now: the read that waits must be in the small buffer, the large one back in the pool.
    // (The read that carried these 3 bytes has completed once they arrive; the next one waits.)
    await writeAll(client, new Uint8Array([1, 2, 3]));
    assert.equal(await readExactly(upstream, 3), 3);
    await until("the idle read", () => reads.waiting !== null);
    assert.equal(reads.waiting, SMALL_BUFFER, `the idle read waits in ${reads.waiting} bytes`);
    assert.ok(tunnelBuffers.free >= 1, "the pooled buffer was not given back");
  } finally {
    client.close();
    upstream.close();
    await piped;
  }
});

Deno.test("tunnels whose reader stopped hold at most LARGE_IN_USE large buffers; the rest stream through 64 KiB", async () => {
  // Upstreams that flood tunnels whose clients read nothing: each direction's write waits, with
  // the buffer of its last read.
  const tunnels = LARGE_IN_USE + 16;
  const flood = new Uint8Array(1024 * 1024);
  const opened: { client: Deno.Conn; upstream: Deno.Conn; piped: Promise<unknown> }[] = [];
  const sizes: number[][] = [];
  try {
    for (let i = 0; i < tunnels; i++) {
      const [client, clientSide] = await pair();
      const [upstream, upstreamSide] = await pair();
      const reads: Reads = { sizes: [], waiting: null };
      sizes.push(reads.sizes);
      const piped = pipeBoth(clientSide, recording(upstreamSide, reads), {
        idleMs: 0,
        setDeadline: () => {},
      });
      opened.push({ client, upstream, piped });
      (async () => {
        while (true) await writeAll(upstream, flood);
      })().catch(() => {});
    }
    let most = 0;
    const chunked = () => sizes.filter((s) => s.includes(64 * 1024)).length;
    await until("tunnels stalled in 64 KiB buffers", () => {
      most = Math.max(most, largeBuffersInUse());
      return chunked() >= tunnels - LARGE_IN_USE;
    });
    assert.equal(most, LARGE_IN_USE, "the cap, not one per tunnel");
  } finally {
    for (const { client, upstream } of opened) {
      client.close();
      upstream.close();
    }
    await Promise.all(opened.map((o) => o.piped));
  }
  assert.equal(largeBuffersInUse(), 0, "every large buffer given back");
});
