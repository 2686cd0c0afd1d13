/**
 * The main isolate's side of a multi-worker Gatehouse: starts N worker isolates (worker.ts),
 * hands each config change to all of them in two steps, asks them for metrics, and drains them.
 *
 * - Start: the first worker binds every entrypoint (probing fixed ports, as one process does);
 *   the others then bind the same ports with SO_REUSEPORT (port 0 in the config becomes the
 *   first worker's port). If one fails, the started ones drain and the error is the start's.
 *   One that has not answered START_MS after its modules loaded counts as failed (it is stuck).
 * - A config change (`apply`): every worker prepares it (builds the snapshot, binds new
 *   listeners) before any commits; if one cannot, every prepared one aborts and the error is
 *   the reload's, so nothing is half-applied. Listeners and connections that stay are never
 *   touched: tunnels, streams and requests in flight finish on the snapshot they started with.
 * - Stop: each worker is asked to drain (close its listeners, finish within timeouts.drain,
 *   flush its log); `terminate()` only once it answered or the drain bound plus a grace passed
 *   (terminating a worker with open listeners resets its queued connections, docs/runtime.md).
 * - Heartbeat: every second each worker is asked for a sign of life. One whose event loop has
 *   not answered for STALL_MS (an endless loop, a task that never yields) still holds its share
 *   of the listening sockets, so the kernel goes on handing it new connections that nobody
 *   accepts. It is reported as failed, like a worker that threw: main.ts drains the others and
 *   exits 1, for the supervisor to start a fresh process. Only the process's end stops it: Deno
 *   2.9's `Worker.terminate()` wakes the worker's event loop but cannot interrupt JavaScript that
 *   is running (runtime/ops/worker_host.rs, `request_termination`).
 *
 * Tested by workers_test.ts and main_test.ts.
 */
import type { CertificateFile } from "../config/types.ts";
import type { MetricSamples } from "../telemetry/metrics.ts";
import { log, writeLogLines } from "../telemetry/log.ts";
import { Channel } from "./channel.ts";
import type {
  BoundPorts,
  ConfigChange,
  LogBatch,
  ServerLoad,
  SharedBuffers,
} from "./worker_protocol.ts";

const logger = log("workers");

/** Beyond timeouts.drain, how long a draining worker may take to flush before it is ended. */
const DRAIN_GRACE_MS = 5_000;
/**
 * Tokio's I/O events per tick in each worker's event loop: 32 instead of 1024 ends the
 * saturation stall (docs/runtime.md section 1). Read by a worker when it starts.
 */
const IO_EVENTS_PER_TICK = "32";
const IO_EVENTS_ENV = "DENO_TOKIO_MAX_IO_EVENTS_PER_TICK";
/** How often each worker is asked for a sign of life. */
const HEARTBEAT_MS = 1_000;
/**
 * A worker that has not answered a heartbeat for this long is stuck. Far above any pause a busy
 * worker makes (a major garbage collection takes tens of milliseconds, a reload's snapshot less).
 */
const STALL_MS = 10_000;
/**
 * A worker that has not answered its start within this long after its modules loaded is stuck,
 * and the start fails. A start builds the snapshot, reads certificates and binds: well under a
 * second on a busy core.
 */
const START_MS = 30_000;

/** What workers ask the main isolate for, and how they log. */
export interface PoolServices {
  /** Configure logging from the config in each worker (false: tests that keep logs quiet). */
  readonly logging: boolean;
  /** What `limits.max_connections: auto` stands for (connection_budget.ts); 0 = no limit. */
  readonly autoConnections?: number;
  /** The key authorization of an HTTP-01 token being proved, or null. */
  challenge(token: string): string | null;
  /** The summed metrics text (for a metrics@internal route a worker serves). */
  exposition(): Promise<string>;
  /** A worker failed (an uncaught error, or stuck) after it started; it is not restarted. */
  onFailure?(message: string): void;
  /** The worker isolates' entry module (default ./worker.ts; tests wrap it). */
  readonly module?: URL;
  /** How long a worker may leave a heartbeat unanswered before it counts as stuck. */
  readonly stallMs?: number;
  /** How long a worker may take to start (load its modules, build the snapshot, listen). */
  readonly startMs?: number;
}

interface Member {
  readonly index: number;
  readonly worker: Worker;
  readonly channel: Channel;
  /** Resolves with the failure's message when the worker failed. */
  readonly ended: Promise<string>;
  /** Resolves when the worker's modules are loaded (it is about to take messages). */
  readonly loaded: Promise<void>;
  /** Whether the worker failed. */
  failed(): boolean;
  /** The worker started: a failure from now on is reported to `onFailure`. */
  running(): void;
  /** Marks the worker failed and reports `message` (it does not stop it: see Heartbeat). */
  fail(message: string): void;
  /**
   * When the worker last answered a heartbeat, in performance.now() time; the pool's start until
   * its first answer (set by the WorkerPool constructor, the one place silence starts).
   */
  lastAnswer: number;
  /** A heartbeat is on its way. */
  pinging: boolean;
}

export class WorkerPool {
  readonly #members: Member[];
  #ports: BoundPorts;
  readonly #heartbeat: ReturnType<typeof setInterval>;
  #lastBeat = performance.now();

  private constructor(members: Member[], ports: BoundPorts, stallMs: number) {
    this.#members = members;
    this.#ports = ports;
    // Silence counts from now: a worker that started first may have waited for the others.
    for (const m of members) m.lastAnswer = this.#lastBeat;
    this.#heartbeat = setInterval(() => this.#beat(stallMs), HEARTBEAT_MS);
    Deno.unrefTimer(this.#heartbeat);
  }

  /**
   * Starts `count` workers on `change`; resolves once every one listens, or throws (having
   * stopped every worker it started) with the first failure's message.
   */
  static async start(
    count: number,
    change: ConfigChange,
    shared: SharedBuffers,
    certificates: Readonly<Record<string, readonly CertificateFile[]>>,
    services: PoolServices,
  ): Promise<WorkerPool> {
    pacedEventLoops();
    const members: Member[] = [];
    const start = async (index: number, ports: BoundPorts) => {
      const member = spawn(index, services);
      members.push(member);
      // Rejects if the worker fails while starting; handled here, as it may fail much later.
      const failed = member.ended.then((message) => {
        throw new Error(message);
      });
      failed.catch(() => {});
      const startMs = services.startMs ?? START_MS;
      // A stuck worker is marked failed, so that stopping it does not wait on its drain. The
      // worker posts "loaded" before it takes the start, so the timer is set before its answer.
      let timer: ReturnType<typeof setTimeout> | undefined;
      member.loaded.then(() => {
        timer = setTimeout(() => {
          member.fail(
            `Cannot start worker ${index}: it has not answered within ${startMs / 1000} s ` +
              `(an endless loop or a task that never yields while starting)`,
          );
        }, startMs);
      });
      try {
        const bound = await Promise.race([
          member.channel.call<BoundPorts>("start", {
            ...change,
            ports,
            index,
            shared,
            probe: index === 0,
            certificates,
            logging: services.logging,
            autoConnections: services.autoConnections ?? 0,
          }).catch((err) => {
            // Gone (the channel closed): the failure's own message says why.
            if (member.failed()) return failed;
            throw inWorker(index, err);
          }),
          failed,
        ]);
        member.running();
        return bound;
      } finally {
        clearTimeout(timer);
      }
    };
    try {
      const ports = await start(0, {});
      const rest = [];
      for (let i = 1; i < count; i++) rest.push(start(i, ports));
      await Promise.all(rest);
      return new WorkerPool(members, ports, services.stallMs ?? STALL_MS);
    } catch (err) {
      await stopAll(members, change.config.timeouts.drain);
      throw err;
    }
  }

  /** Worker isolates running. */
  get size(): number {
    return this.#members.length;
  }

  /** The bound port of an entrypoint (the same in every worker). */
  port(entrypoint: string): number | undefined {
    return this.#ports[entrypoint];
  }

  /**
   * Prepares `change` in every worker, then commits it in all; throws (after aborting every
   * prepared one, so nothing changed anywhere) when one cannot prepare.
   */
  async apply(change: Omit<ConfigChange, "ports">): Promise<void> {
    const [first, ...rest] = this.#members;
    const prepared: Member[] = [];
    const prepare = async (m: Member, ports: BoundPorts) => {
      const bound = await m.channel.call<BoundPorts>("prepare", { ...change, ports }).catch(
        (err) => {
          throw inWorker(m.index, err);
        },
      );
      prepared.push(m);
      return bound;
    };
    let ports: BoundPorts;
    try {
      ports = await prepare(first, {});
      const results = await Promise.allSettled(rest.map((m) => prepare(m, ports)));
      const failed = results.find((r) => r.status === "rejected");
      if (failed) throw failed.reason;
    } catch (err) {
      await Promise.allSettled(prepared.map((m) => m.channel.call("abort")));
      throw err;
    }
    await Promise.all(this.#members.map((m) => m.channel.call("commit")));
    this.#ports = ports;
  }

  /** Each running worker's data-path metric samples (a failed worker's are gone). */
  samples(): Promise<MetricSamples[]> {
    const running = this.#members.filter((m) => !m.failed());
    return Promise.all(running.map((m) => m.channel.call<MetricSamples>("samples")));
  }

  /** Work per server summed over the running workers, by `${service} ${url}`. */
  async loads(): Promise<Map<string, Omit<ServerLoad, "service" | "url">>> {
    const running = this.#members.filter((m) => !m.failed());
    const all = await Promise.all(running.map((m) => m.channel.call<ServerLoad[]>("loads")));
    const sums = new Map<string, { inflight: number; open: number; idle: number }>();
    for (const load of all.flat()) {
      const key = `${load.service} ${load.url}`;
      const sum = sums.get(key) ?? { inflight: 0, open: 0, idle: 0 };
      sum.inflight += load.inflight;
      sum.open += load.open;
      sum.idle += load.idle;
      sums.set(key, sum);
    }
    return sums;
  }

  /** ACME obtained certificates: every worker serves them to new handshakes. */
  certificates(obtained: Readonly<Record<string, readonly CertificateFile[]>>): void {
    for (const m of this.#members) m.channel.notify("certificates", obtained);
  }

  /** Drains every worker (bounded by `drainMs` plus a grace), then ends them. */
  async stop(drainMs: number): Promise<void> {
    clearInterval(this.#heartbeat);
    await stopAll(this.#members, drainMs);
  }

  /** Asks each running worker for a sign of life; ends one silent for `stallMs`. */
  #beat(stallMs: number): void {
    const now = performance.now();
    // This isolate's own loop was held up (a long task here): the workers' answers may be
    // waiting in its queue, so the time it lost does not count as their silence.
    const late = now - this.#lastBeat - HEARTBEAT_MS;
    this.#lastBeat = now;
    for (const m of this.#members) {
      if (late > HEARTBEAT_MS) m.lastAnswer += late;
      if (m.failed()) continue;
      const silent = now - m.lastAnswer;
      if (silent >= stallMs) {
        m.fail(
          `Worker ${m.index} failed: its event loop has not answered for ` +
            `${Math.round(silent / 1000)} s (an endless loop or a task that never yields)`,
        );
      } else if (!m.pinging) {
        m.pinging = true;
        m.channel.call("ping").then(() => {
          m.lastAnswer = performance.now();
          m.pinging = false;
        }, () => {});
      }
    }
  }
}

/**
 * A worker's refusal, naming the worker when it is not the first: the first one meets a bad
 * config before the others do, so its message is the config's; a later one's is its own.
 */
function inWorker(index: number, err: unknown): Error {
  if (index === 0 || !(err instanceof Error)) return err as Error;
  return new Error(`Worker ${index}: ${err.message}`);
}

/** Sets IO_EVENTS_PER_TICK for the workers about to start, unless the environment sets it. */
function pacedEventLoops(): void {
  try {
    if (Deno.env.get(IO_EVENTS_ENV) === undefined) Deno.env.set(IO_EVENTS_ENV, IO_EVENTS_PER_TICK);
  } catch (err) {
    logger.warning(
      "Cannot set {name} for the workers: {error}; they keep tokio's default (docs/runtime.md)",
      { name: IO_EVENTS_ENV, error: (err as Error).message },
    );
  }
}

function spawn(index: number, services: PoolServices): Member {
  const worker = new Worker(services.module ?? new URL("./worker.ts", import.meta.url), {
    type: "module",
    name: `gatehouse-worker-${index}`,
  });
  const channel = new Channel(worker);
  const { promise: ended, resolve } = Promise.withResolvers<string>();
  const { promise: loaded, resolve: resolveLoaded } = Promise.withResolvers<void>();
  let failed = false;
  let started = false;
  const fail = (message: string) => {
    if (failed) return;
    failed = true;
    logger.error("{message}", { message });
    channel.close(`Cannot reach worker ${index}: ${message}`);
    resolve(message);
    if (started) services.onFailure?.(message);
  };
  worker.onmessage = (e) => channel.receive(e.data);
  worker.onerror = (e) => {
    e.preventDefault();
    fail(`Worker ${index} failed: ${e.message}`);
  };
  channel.on("loaded", () => resolveLoaded());
  channel.on("log", (batch: LogBatch) => writeLogLines(batch.stream, batch.bytes));
  channel.on("challenge", (token: string) => services.challenge(token));
  channel.on("exposition", () => services.exposition());
  return {
    index,
    worker,
    channel,
    ended,
    loaded,
    failed: () => failed,
    running: () => started = true,
    fail,
    lastAnswer: 0,
    pinging: false,
  };
}

async function stopAll(members: readonly Member[], drainMs: number): Promise<void> {
  await Promise.all(members.map(async (m) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, drainMs + DRAIN_GRACE_MS);
    });
    await Promise.race([m.channel.call("drain").catch(() => {}), m.ended, bound]);
    clearTimeout(timer);
    m.channel.close("Cannot reach a worker: it was stopped");
    m.worker.terminate();
  }));
}
