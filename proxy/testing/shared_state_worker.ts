/**
 * A Worker that opens Gatehouse's shared state from the main isolate's SharedArrayBuffers and
 * acts on it, so tests can show that what one isolate does, another sees.
 *
 * Messages in (each answered with `{ result }`):
 * - `{ op: "ping" }`: answers true once the worker runs.
 * - `{ op: "fail", servers, slot, times, passive }`: records `times` failures of an
 *   UpstreamServer on that slot of the server table (passive health as given); answers whether
 *   it is available afterwards.
 * - `{ op: "available", servers, slot }`: whether the server on that slot is available now.
 * - `{ op: "count", store, cells, key, times, barrier }`: adds 1 to cell 0 of `key` `times`
 *   times in the counter store (after the barrier, as for "admit"); answers the last value seen.
 * - `{ op: "take", store, cells, partition, key, times, rate, barrier }`: `times` takes from
 *   `key`'s bucket in a net/shared_limit_store.ts table over the store; answers how many passed.
 * - `{ op: "acquire", store, cells, partition, key, times, max, barrier }`: `times` in-flight
 *   acquisitions under `max`; answers how many succeeded.
 * - `{ op: "release", store, cells, partition, key, times }`: `times` releases; answers true.
 * - `{ op: "admit", counts, slots, owner, tries, maxOwner, barrier }`: `tries` admissions of
 *   `owner` under `maxOwner`; answers how many were admitted. `barrier` (Int32 [ready, go]):
 *   the worker adds one to `ready`, then waits until `go` is not 0, so that several workers
 *   start at the same moment.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import type { PassiveHealth } from "../config/types.ts";
import { SharedConnectionCounts } from "../net/connection_counts.ts";
import type { Rate } from "../net/limit_store.ts";
import { CounterStore } from "../net/shared_counters.ts";
import { SharedLimitStore } from "../net/shared_limit_store.ts";
import { ServerTable } from "../upstream/server_cells.ts";
import { UpstreamServer } from "../upstream/server_state.ts";
import { APP_REF as REF } from "./shared_state.ts";

type Message =
  | { op: "ping" }
  | {
    op: "fail";
    servers: SharedArrayBuffer;
    slot: number;
    times: number;
    passive: PassiveHealth;
  }
  | { op: "available"; servers: SharedArrayBuffer; slot: number }
  | {
    op: "count";
    store: SharedArrayBuffer;
    cells: number;
    key: string;
    times: number;
    barrier: SharedArrayBuffer;
  }
  | {
    op: "take" | "acquire" | "release";
    store: SharedArrayBuffer;
    cells: number;
    partition: string;
    key: string;
    times: number;
    rate: Rate;
    max: number;
    barrier?: SharedArrayBuffer;
  }
  | {
    op: "admit";
    counts: SharedArrayBuffer;
    slots: Record<string, number>;
    owner: string;
    tries: number;
    maxOwner: number;
    barrier: SharedArrayBuffer;
  };

/** Says this worker is ready (`ready` + 1), then waits until `go` is not 0. */
function waitAtBarrier(buffer: SharedArrayBuffer): void {
  const barrier = new Int32Array(buffer);
  Atomics.add(barrier, 0, 1);
  Atomics.wait(barrier, 1, 0);
}

const servers = new Map<number, UpstreamServer>();

function server(buffer: SharedArrayBuffer, slot: number): UpstreamServer {
  let s = servers.get(slot);
  if (s === undefined) {
    s = new UpstreamServer(REF, new ServerTable(buffer).cell(slot));
    servers.set(slot, s);
  }
  return s;
}

self.onmessage = (e: MessageEvent<Message>) => {
  const m = e.data;
  switch (m.op) {
    case "ping":
      self.postMessage({ result: true });
      return;
    case "fail": {
      const s = server(m.servers, m.slot);
      for (let i = 0; i < m.times; i++) s.recordFailure(m.passive, Date.now());
      self.postMessage({ result: s.available(Date.now()) });
      return;
    }
    case "available":
      self.postMessage({ result: server(m.servers, m.slot).available(Date.now()) });
      return;
    case "count": {
      const store = new CounterStore(m.store, m.cells);
      waitAtBarrier(m.barrier);
      let last = 0;
      for (let i = 0; i < m.times; i++) {
        last = store.update(m.key, Date.now(), (e) => {
          e.set(0, e.get(0) + 1);
          e.expires = Date.now() + 60_000;
          return e.get(0);
        });
      }
      self.postMessage({ result: last });
      return;
    }
    case "take":
    case "acquire":
    case "release": {
      const table = new SharedLimitStore(new CounterStore(m.store, m.cells)).table(m.partition, 0);
      if (m.barrier !== undefined) waitAtBarrier(m.barrier);
      let done = 0;
      for (let i = 0; i < m.times; i++) {
        if (m.op === "take") done += table.take(m.key, m.rate, Date.now()).ok ? 1 : 0;
        else if (m.op === "acquire") done += table.acquire(m.key, m.max) ? 1 : 0;
        else table.release(m.key);
      }
      self.postMessage({ result: m.op === "release" ? true : done });
      return;
    }
    case "admit": {
      const counts = new SharedConnectionCounts(m.counts);
      counts.use(m.slots);
      waitAtBarrier(m.barrier);
      let admitted = 0;
      for (let i = 0; i < m.tries; i++) {
        if (counts.tryAdd(m.owner, 0, m.maxOwner) === null) admitted++;
      }
      self.postMessage({ result: admitted });
      return;
    }
  }
};
