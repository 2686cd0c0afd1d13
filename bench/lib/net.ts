/**
 * Loopback ports for the bench: free ones picked up front, and waiting until a server accepts.
 *
 * @module
 */
import type { Spawned } from "./procs.ts";

const taken = new Set<number>();

/** A loopback TCP port that is free now and not handed out before in this run. */
export function freePort(): number {
  for (;;) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr as Deno.NetAddr;
    listener.close();
    if (!taken.has(port)) {
      taken.add(port);
      return port;
    }
  }
}

/** Resolves once 127.0.0.1:`port` accepts a connection; fails if `owner` exits first. */
export async function waitForPort(port: number, owner: Spawned, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (owner.exited()) {
      throw new Error(`Cannot start ${owner.name}: it exited before listening on port ${port}`);
    }
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`Cannot start ${owner.name}: port ${port} not accepting after ${timeoutMs} ms`);
}
