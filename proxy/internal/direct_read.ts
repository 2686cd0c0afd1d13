/**
 * Reading a Deno.Conn or Deno.TlsConn through Deno's read op directly, an internal API (Deno 2.9.6,
 * pinned in deno.json; `direct_read_test.ts` fails loudly when an upgrade changes it).
 *
 * `Conn.read` (ext/net/01_net.js) is an async function around the op that also keeps every read
 * in flight in a Set (for `unref`, which Gatehouse does not use) and turns 0 into null. Calling
 * the op skips that layer: -5% CPU per proxied HTTP/1.1 request (docs/runtime.md, question 4).
 * Any other connection (a TLS client of ours, a PROXY-protocol or h2c wrapper, a test's) has no
 * direct reader and is read through its own `read`.
 */

/** Reads into `p` (never empty); resolves with the number of bytes read, 0 at end of stream. */
export type DirectRead = (p: Uint8Array) => Promise<number>;

interface Core {
  read(rid: number, p: Uint8Array): Promise<number>;
}

const core: Core | null = (() => {
  const key = (Deno as unknown as { internal?: symbol }).internal;
  const internals = key === undefined
    ? undefined
    : (Deno as unknown as Record<symbol, { core?: Partial<Core> } | undefined>)[key];
  return typeof internals?.core?.read === "function" ? internals.core as Core : null;
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
