/**
 * The accept loop of every listener. `for await (const conn of listener)` ends on the first
 * error, and accept() fails for reasons that concern one connection only (a client that resets
 * between the kernel's accept and ours: NotConnected, ConnectionReset): with `for await`, one
 * such client would silently stop the whole entrypoint. This loop ends only when the listener
 * is closed.
 */

/** Pause after an error that is not about one connection (e.g. out of file descriptors). */
const BACKOFF_MS = 50;

/** Holds the accept loop while `paused` is not null (proxy/tls/resolution_gate.ts). */
export interface AcceptGate {
  readonly paused: Promise<void> | null;
}

/** Calls `onConn` for each accepted connection until `listener` is closed. */
export async function acceptLoop<C extends Deno.Conn>(
  listener: Deno.Listener<C>,
  onConn: (conn: C) => void,
  gate?: AcceptGate,
): Promise<void> {
  while (true) {
    let conn: C;
    try {
      if (gate?.paused) await gate.paused;
      conn = await listener.accept();
    } catch (err) {
      if (err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) return;
      if (!oneConnection(err)) await new Promise((r) => setTimeout(r, BACKOFF_MS));
      continue;
    }
    onConn(conn);
  }
}

function oneConnection(err: unknown): boolean {
  return err instanceof Deno.errors.NotConnected || err instanceof Deno.errors.ConnectionReset ||
    err instanceof Deno.errors.ConnectionAborted;
}
