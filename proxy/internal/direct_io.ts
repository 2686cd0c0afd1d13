/**
 * Reading and writing a Deno.Conn or Deno.TlsConn through Deno's read and write ops directly, an
 * internal API (Deno 2.9.6, pinned in deno.json; `direct_io_test.ts` fails loudly when an upgrade
 * changes it).
 *
 * `Conn.read` (ext/net/01_net.js) is an async function around the op that also keeps every read
 * in flight in a Set (for `unref`, which Gatehouse does not use) and turns 0 into null. Calling
 * the op skips that layer: -5% CPU per proxied HTTP/1.1 request (docs/runtime.md, question 4).
 * `Conn.write` calls an async function that only awaits the write op: one more promise and
 * suspended frame per write, which the direct writer skips.
 * Any other connection (a TLS client of ours, a PROXY-protocol or h2c wrapper, a test's) has no
 * direct reader or writer and is used through its own `read` and `write`.
 */

/** Reads into `p` (never empty); resolves with the number of bytes read, 0 at end of stream. */
export type DirectRead = (p: Uint8Array) => Promise<number>;

/** Writes (some of) `p`; resolves with the number of bytes written, as `Conn.write` does. */
export interface Writer {
  write(p: Uint8Array): Promise<number>;
}

interface Core {
  read(rid: number, p: Uint8Array): Promise<number>;
  write(rid: number, p: Uint8Array): Promise<number>;
}

const core: Core | null = (() => {
  const key = (Deno as unknown as { internal?: symbol }).internal;
  const internals = key === undefined
    ? undefined
    : (Deno as unknown as Record<symbol, { core?: Partial<Core> } | undefined>)[key];
  const found = internals?.core;
  return typeof found?.read === "function" && typeof found.write === "function"
    ? found as Core
    : null;
})();

/** The symbol under which Deno's connections keep their resource id, once seen on one. */
let ridSymbol: symbol | undefined;

function ridOf(conn: object): number | undefined {
  if (ridSymbol === undefined) {
    ridSymbol = Object.getOwnPropertySymbols(conn).find((s) =>
      s.description === "Deno.internal.rid"
    );
    if (ridSymbol === undefined) return undefined;
  }
  const rid = (conn as Record<symbol, unknown>)[ridSymbol];
  return typeof rid === "number" ? rid : undefined;
}

/** The direct reader of `conn` when it is one of Deno's own connections, else null. */
export function directRead(conn: object): DirectRead | null {
  if (core === null) return null;
  const rid = ridOf(conn);
  if (rid === undefined) return null;
  return (p) => core.read(rid, p);
}

/**
 * A writer that calls Deno's write op for `conn` when it is one of Deno's own connections, else
 * `conn` itself. Same results and errors as `conn.write` (the op rejects on a closed connection).
 */
export function directWriter<T extends Writer>(conn: T): Writer {
  if (core === null) return conn;
  const rid = ridOf(conn);
  if (rid === undefined) return conn;
  return new OpWriter(core, rid);
}

/** A class, not a closure: one small object per connection (idle connections are many). */
class OpWriter implements Writer {
  readonly #core: Core;
  readonly #rid: number;

  constructor(core: Core, rid: number) {
    this.#core = core;
    this.#rid = rid;
  }

  write(p: Uint8Array): Promise<number> {
    return this.#core.write(this.#rid, p);
  }
}
