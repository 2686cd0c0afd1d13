/**
 * A long-lived `Map` of what is in flight, keyed by ids that only grow, drags the requests it held
 * into V8's old generation; the same registry in proxy/net/id_table.ts's table does not. 50
 * "connections" keep 10 "requests" each in flight (~1 KB of objects each, held across a
 * macrotask, as an HTTP/2 connection holds its streams), for 600k requests, in a child process per
 * variant under `--trace-gc-nvp`:
 *
 * - `map`: each connection registers its requests in a `Map<number, Request>`;
 * - `table`: in an `IdTable` (proxy/net/id_table.ts);
 * - `none`: nowhere (the baseline).
 *
 * docs/runtime.md, "Requests promoted under load".
 *
 * `deno run -A bench/repro/map_promotion.ts`
 *
 * @module
 */
import { setImmediate } from "node:timers";
import { IdTable } from "../../proxy/net/id_table.ts";
import { promotionByVariant } from "./common.ts";

const mode = Deno.args[0];
const REQUESTS = 600_000;

if (mode === undefined) {
  await promotionByVariant(new URL(import.meta.url).pathname, ["map", "table", "none"]);
} else {
  interface Registry {
    set(id: number, req: unknown): void;
    delete(id: number): void;
  }
  const registry = (): Registry | null =>
    mode === "map" ? new Map() : mode === "table" ? new IdTable() : null;
  const conns = Array.from({ length: 50 }, () => ({ live: registry(), open: 0, next: 1 }));
  const request = (id: number) => Array.from({ length: 12 }, (_, i) => ({ id, s: `v${id}-${i}` }));
  let done = 0;
  const serve = async (conn: (typeof conns)[number], id: number, req: unknown[]) => {
    await new Promise((resolve) => setImmediate(resolve, req));
    conn.live?.delete(id);
    conn.open--;
    done++;
  };
  const turn = () => {
    for (const conn of conns) {
      while (conn.open < 10) {
        const id = conn.next += 2;
        const req = request(id);
        conn.live?.set(id, req);
        conn.open++;
        void serve(conn, id, req);
      }
    }
    if (done < REQUESTS) setImmediate(turn);
  };
  turn();
}
