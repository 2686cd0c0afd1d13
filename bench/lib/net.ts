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

/**
 * Resolves once `file` (a server's log) has a line matching `pattern`: the moment a server says
 * it is ready, which for one with several workers comes after its first port accepts. Fails if
 * `owner` exits first.
 */
export async function waitForLogLine(
  file: string,
  pattern: RegExp,
  owner: Spawned,
  timeoutMs = 20_000,
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (owner.exited()) throw new Error(`Cannot start ${owner.name}: it exited (see ${file})`);
    const text = await Deno.readTextFile(file).catch(() => "");
    if (pattern.test(text)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(
    `Cannot start ${owner.name}: no line like ${pattern} in ${file} after ${timeoutMs} ms`,
  );
}

/**
 * Resolves once a datagram sent to 127.0.0.1:`port` comes back (the port echoes, directly or
 * through a proxy); fails if `owner` exits first.
 */
export async function waitForUdpEcho(port: number, owner: Spawned, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const ping = new TextEncoder().encode("ping");
  let received: Promise<boolean> | undefined;
  try {
    while (Date.now() < deadline) {
      if (owner.exited()) {
        throw new Error(`Cannot start ${owner.name}: it exited before echoing on UDP port ${port}`);
      }
      await socket.send(ping, { transport: "udp", hostname: "127.0.0.1", port }).catch(() => {});
      // One receive for the whole wait (a second one on the socket would be busy); it fails
      // quietly when the socket closes.
      received ??= socket.receive().then(() => true, () => false);
      const echoed = await Promise.race([
        received,
        new Promise((resolve) => setTimeout(() => resolve(false), 100)),
      ]);
      if (echoed) return;
    }
  } finally {
    socket.close();
  }
  throw new Error(`Cannot start ${owner.name}: UDP port ${port} not echoing after ${timeoutMs} ms`);
}
