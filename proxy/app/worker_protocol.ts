/**
 * What the main isolate and a worker isolate say to each other (over channel.ts), and the
 * shared memory they both open. One module so both sides agree on the shapes.
 *
 * Calls from main to a worker: `start` (once), `prepare`, `commit`, `abort` (a config change,
 * see Runtime.prepare), `samples` (metrics at scrape time), `loads` (per-server work, for /status), `drain` (stop accepting, finish
 * within timeouts.drain, flush the log), and the `certificates` notice (ACME obtained some).
 * Calls from a worker to main: `challenge` (an HTTP-01 answer), `exposition` (the summed
 * metrics text, for a metrics@internal route), and the `log` notice (a batch of whole lines).
 */
import type { CertificateFile, Config } from "../config/types.ts";

/** The SharedArrayBuffers every isolate opens. */
export interface SharedBuffers {
  /** upstream/server_cells.ts ServerTable. */
  readonly servers: SharedArrayBuffer;
  /** net/connection_counts.ts SharedConnectionCounts. */
  readonly connections: SharedArrayBuffer;
  /** net/shared_counters.ts CounterStore. */
  readonly counters: SharedArrayBuffer;
  /** Numbers per entry of the counter store. */
  readonly counterCells: number;
}

/** A config change, as each worker needs it. */
export interface ConfigChange {
  readonly config: Config;
  /** Server-table slots by service name, one per server in `config.services[name].servers`. */
  readonly cells: Readonly<Record<string, readonly number[]>>;
  /** Connection-count slots by entrypoint name. */
  readonly connectionSlots: Readonly<Record<string, number>>;
  /** Ports the first worker bound, by entrypoint (for entrypoints whose config says port 0). */
  readonly ports: Readonly<Record<string, number>>;
}

export interface StartMessage extends ConfigChange {
  /** The worker's number, from 0. */
  readonly index: number;
  readonly shared: SharedBuffers;
  /** Probe fixed ports before binding (the first worker at start only; see tls/server.ts). */
  readonly probe: boolean;
  /** Configure logging from the config (else this worker logs nothing). */
  readonly logging: boolean;
  /** Certificates ACME obtained, by entrypoint. */
  readonly certificates: Readonly<Record<string, readonly CertificateFile[]>>;
  /** What `limits.max_connections: auto` stands for (app/connection_budget.ts); 0 = no limit. */
  readonly autoConnections: number;
}

/** A worker's answer to `start` and `prepare`: the port of each of its entrypoints. */
export type BoundPorts = Record<string, number>;

/** What one server carries in one isolate (for /status, summed over workers). */
export interface ServerLoad {
  readonly service: string;
  readonly url: string;
  readonly inflight: number;
  readonly open: number;
  readonly idle: number;
}

/** The `log` notice: whole lines for the process's stderr ("app") or stdout ("access"). */
export interface LogBatch {
  readonly stream: "app" | "access";
  readonly bytes: Uint8Array;
}
