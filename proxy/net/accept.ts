/**
 * The accept loop of every listener. `for await (const conn of listener)` ends on the first
 * error, and accept() fails for reasons that concern one connection only (a client that resets
 * between the kernel's accept and ours: NotConnected, ConnectionReset): with `for await`, one
 * such client would silently stop the whole entrypoint. This loop ends only when the listener
 * is closed.
 *
 * Out of file descriptors (EMFILE, ENFILE), accept fails while the client's connection waits in
 * the kernel's queue: the loop tries again every BACKOFF_MS, so that connection is served once
 * descriptors free up, and reports each failure (counted and logged by the listener's owner).
 */
import { isOutOfFiles } from "../internal/open_files.ts";

/** Pause after an error that is not about one connection (e.g. out of file descriptors). */
const BACKOFF_MS = 50;

/** Holds the accept loop while `paused` is not null (proxy/tls/resolution_gate.ts). */
export interface AcceptGate {
  readonly paused: Promise<void> | null;
}

/** A failed accept that was not about one client: out of descriptors, or anything else. */
export interface AcceptFailure {
  readonly reason: "open_files" | "other";
  /** What the system said ("Too many open files (os error 24)"). */
  readonly message: string;
}

/**
 * Calls `onConn` for each accepted connection until `listener` is closed, and `onFailure` for
 * each accept that failed for a reason beyond one client.
 */
export async function acceptLoop<C extends Deno.Conn>(
  listener: Deno.Listener<C>,
  onConn: (conn: C) => void,
  gate?: AcceptGate,
  onFailure?: (failure: AcceptFailure) => void,
): Promise<void> {
  while (true) {
    let conn: C;
    try {
      if (gate?.paused) await gate.paused;
      conn = await listener.accept();
    } catch (err) {
      if (err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) return;
      if (!oneConnection(err)) {
        onFailure?.(acceptFailure(err));
        await new Promise((r) => setTimeout(r, BACKOFF_MS));
      }
      continue;
    }
    onConn(conn);
  }
}

function oneConnection(err: unknown): boolean {
  return err instanceof Deno.errors.NotConnected || err instanceof Deno.errors.ConnectionReset ||
    err instanceof Deno.errors.ConnectionAborted;
}

function acceptFailure(err: unknown): AcceptFailure {
  const message = err instanceof Error ? err.message : String(err);
  return { reason: isOutOfFiles(err) ? "open_files" : "other", message };
}

/**
 * The accept loops of one listener's sockets. A closed Deno listener keeps its socket open until
 * its pending accept has ended, and meanwhile stays in its port's SO_REUSEPORT group: the kernel
 * still hands it new connections, which are reset when the socket closes. `ended` resolves once
 * every loop has returned, that is, once every socket is closed: what a process handing its ports
 * to another waits for (app/runtime.ts, shutdown).
 */
export class AcceptLoops {
  readonly #running = new Set<Promise<void>>();

  /** Runs `acceptLoop` with these arguments, tracked until it returns. */
  start<C extends Deno.Conn>(
    listener: Deno.Listener<C>,
    onConn: (conn: C) => void,
    gate?: AcceptGate,
    onFailure?: (failure: AcceptFailure) => void,
  ): void {
    const loop = acceptLoop(listener, onConn, gate, onFailure);
    this.#running.add(loop);
    loop.then(() => this.#running.delete(loop));
  }

  /** Resolves once every loop started so far has returned. */
  async ended(): Promise<void> {
    await Promise.all(this.#running);
  }
}
