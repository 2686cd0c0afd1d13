/**
 * The main isolate's shared memory for a multi-worker Gatehouse: the server table (health and
 * ejection of every upstream server), the connection counts (entrypoint limits) and the counter
 * store (rate_limit and in_flight_limit state, sized by `counterEntries`). The main isolate
 * allocates server slots as its own runtime builds servers (`cellFor`), tells workers which slot
 * each server has (`cellsOf`), and frees the slots of servers a committed config dropped
 * (`retire`) or an aborted one made (`forget`).
 *
 * Tested by workers_test.ts and shared_state_test.ts.
 */
import type { Config } from "../config/types.ts";
import type { Snapshot } from "../http/context.ts";
import { SharedConnectionCounts } from "../net/connection_counts.ts";
import { CounterStore } from "../net/shared_counters.ts";
import { type ServerCell, ServerTable } from "../upstream/server_cells.ts";
import type { ConfigChange, SharedBuffers } from "./worker_protocol.ts";

/** Upstream servers over the life of the process (slots are reused once freed). */
const SERVER_SLOTS = 16_384;
/** Entrypoint names over the life of the process (a name keeps its slot). */
const ENTRYPOINT_SLOTS = 1_024;
/**
 * Keys the counter store holds at once: the `max_keys` of every rate_limit of the config the
 * process starts with, plus room for in-flight counts and other state, up to a bound (56 bytes
 * per key; the store cannot grow later, so a reload that raises `max_keys` shares this room).
 */
const COUNTER_SPARE = 65_536;
const COUNTER_MAX = 4_194_304;
const COUNTER_CELLS = 4;

/** The entries of the counter store for a process that starts with `config`. */
export function counterEntries(config: Config): number {
  let keys = COUNTER_SPARE;
  for (const def of Object.values(config.middlewares)) {
    if (def.kind === "rate_limit") keys += def.maxKeys;
  }
  return Math.min(keys, COUNTER_MAX);
}

export class SharedState {
  readonly table = ServerTable.create(SERVER_SLOTS);
  readonly connections = SharedConnectionCounts.create(ENTRYPOINT_SLOTS);
  readonly counters: CounterStore;
  readonly #slotOf = new WeakMap<ServerCell, number>();
  /** Slots allocated since the last `retire` or `forget`. */
  #fresh: number[] = [];

  /** Shared memory for a process that starts with `config`. */
  constructor(config: Config) {
    this.counters = CounterStore.shared({ entries: counterEntries(config), cells: COUNTER_CELLS });
  }

  get buffers(): SharedBuffers {
    return {
      servers: this.table.buffer,
      connections: this.connections.buffer,
      counters: this.counters.buffer as SharedArrayBuffer,
      counterCells: this.counters.cells,
    };
  }

  /** A cell on a new slot, for a server the main isolate's runtime builds. */
  readonly cellFor = (_service: string, _index: number): ServerCell => {
    const slot = this.table.allocate();
    const cell = this.table.cell(slot);
    this.#slotOf.set(cell, slot);
    this.#fresh.push(slot);
    return cell;
  };

  /** What workers need besides the config to apply `snapshot` (built by the main runtime). */
  change(snapshot: Snapshot): Omit<ConfigChange, "ports"> {
    const cells: Record<string, number[]> = {};
    for (const [name, service] of snapshot.services) {
      cells[name] = service.servers.map((s) => {
        const slot = this.#slotOf.get(s.cell);
        if (slot === undefined) throw new Error(`Cannot share the state of server ${s.url}`);
        return slot;
      });
    }
    const connectionSlots = this.connections.assign(Object.keys(snapshot.config.entrypoints));
    return { config: snapshot.config, cells, connectionSlots };
  }

  /** `next` was committed after `old`: frees the slots of servers `next` did not adopt. */
  retire(old: Snapshot, next: Snapshot): void {
    this.#fresh = [];
    const kept = new Set([...next.services.values()].flatMap((s) => s.servers));
    for (const service of old.services.values()) {
      for (const s of service.servers) {
        const slot = this.#slotOf.get(s.cell);
        if (!kept.has(s) && slot !== undefined) this.table.release(slot);
      }
    }
  }

  /** The change being prepared was aborted: frees the slots it allocated. */
  forget(): void {
    for (const slot of this.#fresh) this.table.release(slot);
    this.#fresh = [];
  }
}
