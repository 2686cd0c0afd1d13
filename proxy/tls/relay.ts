/**
 * TLS termination for connections that were already accepted as plain TCP (after peeking their
 * ClientHello, or reading a PROXY protocol header). Deno starts server-side TLS only on
 * connections its own TLS listener accepts, so the bytes are relayed over loopback to an
 * internal TLS listener (127.0.0.1, port 0), and the connection that listener accepts is
 * matched back to the original client by the relay's local port.
 *
 * Only relayed connections pay for this: two more loopback sockets and a copy each way.
 * A connection to the internal port that the relay did not open is refused (`claim` gives
 * undefined), so a local process cannot pose as a client with a chosen address.
 *
 * @module
 */
import { type ByteConn, writeAll } from "../net/buffered_conn.ts";
import { pipeBoth } from "../net/pipe.ts";

/** How long `claim` waits for the relay to register a connection the listener already accepted. */
const CLAIM_WAIT_MS = 2000;

/** The relay of one client connection, as its internal side sees it. */
export interface RelayLink<T> {
  /** What the relay was started with (client address, route...). */
  readonly context: T;
  /** Closes both relay sockets now. */
  close(): void;
  /** The relayed side is done: let pending bytes reach the client, and close after `graceMs`. */
  finish(graceMs: number): void;
}

interface Entry<T> {
  readonly link: RelayLink<T>;
  readonly onClaim: () => void;
}

export interface RelayOptions<T> {
  /** Port of the internal TLS listener on 127.0.0.1. */
  readonly port: number;
  /** Sent before the client's next bytes: what was already read from it (the ClientHello). */
  readonly first: Uint8Array;
  readonly context: T;
  /** Called when the internal listener claims the connection. */
  readonly onClaim?: () => void;
  /**
   * When the internal side ends its output, close the client after `graceMs` (HTTP: the server
   * closed the connection); otherwise only half-close it (TCP streams keep half-close).
   */
  readonly endWithInner?: { readonly graceMs: number };
}

export class TlsRelay<T> {
  readonly #entries = new Map<number, Entry<T>>();
  readonly #waiters = new Map<number, (entry: Entry<T>) => void>();

  /**
   * Relays `client` to the internal listener until both directions end. Resolves false when the
   * internal listener could not be reached (the client is then left open to the caller).
   */
  async relay(client: ByteConn, opts: RelayOptions<T>): Promise<boolean> {
    let inner: Deno.TcpConn;
    try {
      inner = await Deno.connect({ hostname: "127.0.0.1", port: opts.port });
    } catch {
      return false;
    }
    inner.setNoDelay(true);
    const key = inner.localAddr.port;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const closeBoth = () => {
      for (const c of [client, inner]) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
    };
    const link: RelayLink<T> = {
      context: opts.context,
      close: closeBoth,
      finish(graceMs) {
        if (timer !== undefined) return;
        timer = setTimeout(closeBoth, graceMs);
        Deno.unrefTimer(timer);
      },
    };
    const entry: Entry<T> = { link, onClaim: opts.onClaim ?? (() => {}) };
    const waiter = this.#waiters.get(key);
    if (waiter) {
      this.#waiters.delete(key);
      waiter(entry);
    } else this.#entries.set(key, entry);
    try {
      if (opts.first.length > 0) await writeAll(inner, opts.first);
      const grace = opts.endWithInner?.graceMs;
      await pipeBoth(client, inner, {
        idleMs: 0,
        setDeadline: () => {},
        onEnd: grace === undefined ? undefined : (dir) => dir === "down" && link.finish(grace),
      });
    } catch {
      closeBoth();
    } finally {
      clearTimeout(timer);
      this.#entries.delete(key);
    }
    return true;
  }

  /**
   * The relay link of a connection the internal listener accepted, or undefined when the relay
   * did not open it within `waitMs` (close it then).
   */
  claim(conn: Deno.Conn, waitMs = CLAIM_WAIT_MS): Promise<RelayLink<T> | undefined> {
    const peer = conn.remoteAddr as Deno.NetAddr;
    if (peer.hostname !== "127.0.0.1") return Promise.resolve(undefined);
    const found = this.#entries.get(peer.port);
    if (found) {
      this.#entries.delete(peer.port);
      found.onClaim();
      return Promise.resolve(found.link);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(peer.port);
        resolve(undefined);
      }, waitMs);
      this.#waiters.set(peer.port, (entry) => {
        clearTimeout(timer);
        entry.onClaim();
        resolve(entry.link);
      });
    });
  }
}
