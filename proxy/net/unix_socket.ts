/**
 * Listening on unix sockets: binding a socket file with its mode and owner, telling a stale file
 * (left by a process that crashed) from a live socket, and handing a socket over between
 * listeners of one process.
 *
 * Deno removes a unix listener's file when the listener's resource is dropped, which happens on
 * the event loop's next turn after `close()` (the pending accept must be cancelled first). A
 * reload that replaces a listener with another on the same path (say, TLS was added) can
 * therefore neither bind beside the old one nor bind after closing it in the same turn: the old
 * one's drop would delete the new file. So a socket closed by one listener stays bound until the
 * end of the current turn, and a listener opened on the same path in that turn takes it over
 * (the accept loop carries on, now calling the new listener).
 *
 * Peers of a unix socket are anonymous: logs and headers show the socket's path where an
 * address would be, as `unix:<path>`.
 *
 * Tested by listen/unix_listener_test.ts.
 */
import { type AcceptFailure, acceptLoop } from "./accept.ts";

/** The socket file an entrypoint listens on, and how it should look. */
export interface SocketFileSettings {
  readonly path: string;
  /** Permission bits; null = as created. */
  readonly mode: number | null;
  /** Numeric owner and group; null = unchanged. */
  readonly uid: number | null;
  readonly gid: number | null;
}

/** The address text of a client of the unix socket at `path`: "unix:/run/gh.sock". */
export function unixAddress(path: string): string {
  return `unix:${path}`;
}

/** True when `address` names a unix socket (`unixAddress`), not an IP address. */
export function isUnixAddress(address: string): boolean {
  return address.startsWith("unix:");
}

/** The two ends of an accepted connection as address and port (unix: the socket's path, 0). */
export function connEnds(conn: Deno.Conn): {
  peer: { address: string; port: number };
  local: { address: string; port: number };
} {
  const local = conn.localAddr;
  if (local.transport === "unix" || local.transport === "unixpacket") {
    const at = { address: unixAddress(local.path), port: 0 };
    return { peer: at, local: at };
  }
  const peer = conn.remoteAddr as Deno.NetAddr;
  const own = local as Deno.NetAddr;
  return {
    peer: { address: peer.hostname, port: peer.port },
    local: { address: own.hostname, port: own.port },
  };
}

interface Bound {
  readonly listener: Deno.Listener<Deno.UnixConn>;
  /** The listener it belongs to now; null between a close and the end of the turn. */
  owner: UnixSocketListener | null;
}

/** Sockets this process listens on, by path. */
const bound = new Map<string, Bound>();

/** One listener's hold on a unix socket. */
export class UnixSocketListener {
  readonly path: string;
  readonly #onConn: (conn: Deno.UnixConn) => void;
  readonly #onFailure: ((failure: AcceptFailure) => void) | undefined;
  #closed = false;

  private constructor(
    path: string,
    onConn: (conn: Deno.UnixConn) => void,
    onFailure: ((failure: AcceptFailure) => void) | undefined,
  ) {
    this.path = path;
    this.#onConn = onConn;
    this.#onFailure = onFailure;
  }

  /**
   * Listens on `settings.path` (taking over a socket another listener of this process closed in
   * this turn), sets the file's mode and owner, and calls `onConn` for each connection
   * (`onFailure` for each accept that failed for a reason beyond one client). Throws
   * Deno's error when the path is taken (AddrInUse: a live socket, or a file that is no socket).
   */
  static open(
    settings: SocketFileSettings,
    onConn: (conn: Deno.UnixConn) => void,
    onFailure?: (failure: AcceptFailure) => void,
  ): UnixSocketListener {
    const handle = new UnixSocketListener(settings.path, onConn, onFailure);
    const held = bound.get(settings.path);
    if (held !== undefined && held.owner !== null) {
      throw new Deno.errors.AddrInUse(`${settings.path} is already open in this process`);
    }
    const entry = held ?? {
      listener: Deno.listen({ transport: "unix", path: settings.path }),
      owner: null,
    };
    try {
      applyFileSettings(settings);
    } catch (err) {
      if (held === undefined) entry.listener.close();
      throw err;
    }
    entry.owner = handle;
    if (held === undefined) {
      bound.set(settings.path, entry);
      acceptLoop(
        entry.listener,
        (conn) => {
          if (entry.owner === null) conn.close();
          else entry.owner.#onConn(conn);
        },
        undefined,
        (failure) => {
          if (entry.owner !== null) entry.owner.#onFailure?.(failure);
        },
      );
    }
    return handle;
  }

  /** Sets the file's mode and owner again (a reload changed them). */
  update(settings: SocketFileSettings): void {
    applyFileSettings(settings);
  }

  /**
   * Stops calling this listener. The socket closes (and Deno removes its file) at the end of the
   * turn, unless another listener opened the same path meanwhile.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const entry = bound.get(this.path);
    if (entry === undefined || entry.owner !== this) return;
    entry.owner = null;
    queueMicrotask(() => {
      if (entry.owner !== null) return;
      bound.delete(this.path);
      try {
        entry.listener.close();
      } catch {
        // already closed
      }
    });
  }
}

function applyFileSettings(settings: SocketFileSettings): void {
  const { path, mode, uid, gid } = settings;
  try {
    if (mode !== null) Deno.chmodSync(path, mode);
    if (uid !== null || gid !== null) Deno.chownSync(path, uid, gid);
  } catch (err) {
    const what = mode !== null && uid === null && gid === null ? "mode" : "mode and owner";
    throw new Error(`Cannot set the ${what} of ${path}: ${(err as Error).message}`);
  }
}

/**
 * Removes the socket file at `path` when it is stale: a socket nobody accepts on (connecting is
 * refused), left by a process that ended without removing it. A live socket, a file that is not
 * a socket, and a socket this process holds are left alone (binding then says why it cannot).
 */
export async function removeStaleSocket(path: string): Promise<void> {
  if (bound.has(path)) return;
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch {
    return;
  }
  if (!info.isSocket) return;
  try {
    (await Deno.connect({ transport: "unix", path })).close();
  } catch (err) {
    if (!(err instanceof Deno.errors.ConnectionRefused)) return;
    try {
      await Deno.remove(path);
    } catch {
      // removed meanwhile
    }
  }
}

/** Why a socket path cannot be bound although nothing of ours holds it (AddrInUse). */
export function socketInUseReason(path: string): string {
  try {
    if (!Deno.lstatSync(path).isSocket) {
      return "the path exists and is not a socket: remove it or choose another path";
    }
  } catch {
    return "the path is in use";
  }
  return "another process is listening on it (a live socket): stop it, or choose another path";
}
