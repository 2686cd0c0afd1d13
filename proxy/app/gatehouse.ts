/**
 * A whole Gatehouse: the runtime, metrics, hot reload and the admin endpoint, wired together.
 * main.ts adds the command line and signals; tests start one in-process.
 *
 * With `workers` 1 (the default here; main.ts passes the config's count) everything runs in this
 * isolate. With more, this is the main isolate of a multi-worker Gatehouse (docs/architecture.md,
 * "Worker isolates"): its runtime opens no listener and serves nothing, but builds every config's
 * snapshot so that it runs the active health checks, the status document and the control
 * metrics; config loading, reloads, ACME and the admin endpoint stay here, and a WorkerPool
 * (workers.ts) runs the data path in N worker isolates that share server health, connection
 * counts and the counter store with this one (shared_state.ts).
 *
 * Tested by admin/status_test.ts, telemetry/metrics_test.ts, main_test.ts and the acme/ tests,
 * which start a whole Gatehouse in-process.
 */
import { AcmeManager } from "../acme/manager.ts";
import { ADMIN_REFUSALS, type AdminServer, readAdminToken, startAdmin } from "../admin/server.ts";
import { statusDocument } from "./status.ts";
import type { Config } from "../config/types.ts";
import type { ConfigFragment } from "../config/fragments.ts";
import { DockerSource } from "./docker_source.ts";
import { HeaderList } from "../proto/header_list.ts";
import type { InternalService } from "../http/context.ts";
import { compressionStats } from "../http/compress/shortfall.ts";
import { log, setupLogging } from "../telemetry/log.ts";
import { Metrics, type MetricSamples } from "../telemetry/metrics.ts";
import { ControlMetrics, exposition, EXPOSITION_TYPE } from "../telemetry/control_metrics.ts";
import { filesState, Reloader, type ReloadResult, type ReloadTarget } from "./reloader.ts";
import { Runtime } from "./runtime.ts";
import { AcceptFailures, checkOpenFiles } from "./open_files.ts";
import { autoConnections, autoRequests } from "./connection_budget.ts";
import { limitOf } from "../net/connection_counts.ts";
import { openFileCount, openFileLimit } from "../internal/open_files.ts";
import { prepareSockets } from "../listen/listener.ts";
import { SharedState } from "./shared_state.ts";
import { WorkerPool } from "./workers.ts";

const logger = log("gatehouse");

export interface GatehouseOptions {
  /** Watch the config's files and reload on change (default true). */
  readonly watch?: boolean;
  /** Configure logging from the config (default true; tests may turn it off). */
  readonly logging?: boolean;
  /** Runs before each reload reads the config file (see `ReloaderOptions.beforeLoad`). */
  readonly beforeReload?: (path: string, fragments: readonly ConfigFragment[]) => Promise<void>;
  /** Worker isolates carrying the traffic (default 1: this isolate carries it). */
  readonly workers?: number;
  /**
   * A worker isolate failed after the start (it threw, or stopped answering its heartbeat; it is
   * not restarted): main.ts drains and exits 1 so that the supervisor starts a fresh process.
   */
  readonly onWorkerFailure?: (message: string) => void;
  /** The worker isolates' entry module, stall and start bounds (tests; see PoolServices). */
  readonly workerModule?: URL;
  readonly workerStallMs?: number;
  readonly workerStartMs?: number;
}

export class Gatehouse {
  readonly runtime: Runtime;
  readonly metrics: Metrics;
  readonly control: ControlMetrics;
  readonly reloader: Reloader;
  /** Automatic HTTPS: certificates from the ACME CA. */
  readonly acme: AcmeManager;
  /** Routes and services from Docker container labels (off unless `docker.enabled`). */
  readonly docker: DockerSource;
  readonly startedAt = new Date();
  #admin: AdminServer | null = null;
  /** The admin endpoint's failed accepts: logged (its entrypoints' are counted too). */
  readonly #adminFailures = new AcceptFailures();
  #adminKey = "";
  #draining = false;
  readonly #logging: boolean;
  readonly #pool: WorkerPool | null;
  /** The `workers` setting of the config last applied. */
  #workersSetting: Config["workers"];

  private constructor(
    runtime: Runtime,
    metrics: Metrics,
    control: ControlMetrics,
    acme: AcmeManager,
    opts: GatehouseOptions,
    workers: { pool: WorkerPool; shared: SharedState } | null,
  ) {
    this.runtime = runtime;
    this.metrics = metrics;
    this.control = control;
    this.acme = acme;
    this.#logging = opts.logging ?? true;
    this.docker = new DockerSource((reason) => this.reload(reason));
    this.#pool = workers?.pool ?? null;
    this.#workersSetting = runtime.config.workers;
    const target = workers === null ? runtime : workerTarget(runtime, workers.pool, workers.shared);
    this.reloader = new Reloader(target, {
      beforeLoad: opts.beforeReload,
      fragments: () => this.docker.fragments(),
      onResult: (result, applied) => this.#onReload(result, applied),
    });
  }

  /** Binds every entrypoint and the admin endpoint; throws a readable error if one fails. */
  static async start(config: Config, opts: GatehouseOptions = {}): Promise<Gatehouse> {
    const logging = opts.logging ?? true;
    if (logging) await setupLogging(config.log);
    checkOpenFiles(config);
    const count = opts.workers ?? 1;
    const autoMax = autoConnections(config, count);
    // Taken before anything listens: a change while the workers start is then still seen.
    const since = opts.watch ?? true ? await filesState(config.files) : null;
    let metrics: Metrics | null = null;
    let control: ControlMetrics | null = null;
    let runtime: Runtime | null = null;
    let pool: WorkerPool | null = null;
    const obtained = () =>
      Object.fromEntries(
        Object.keys(runtime!.config.entrypoints).map((name) => [name, acme.certificates(name)]),
      );
    const acme = new AcmeManager({
      onCertificates: () => {
        runtime?.refreshCertificates();
        pool?.certificates(obtained());
      },
      onAttempt: (host, result) => control?.acmeAttempt(host, result),
    });
    const text = async () =>
      await exposition([
        ...await pool?.samples() ?? [await metrics!.samples()],
        await control!.samples(),
      ]);
    await acme.configure(config);
    const internal = new Map<string, InternalService>([
      ["metrics@internal", async () => {
        const headers = new HeaderList();
        headers.appendLower("content-type", EXPOSITION_TYPE);
        headers.appendLower("cache-control", "no-store");
        return { status: 200, headers, body: new TextEncoder().encode(await text()) };
      }],
    ]);
    await prepareSockets(config);
    const shared = count > 1 ? new SharedState(config) : null;
    runtime = shared === null
      ? Runtime.start(config, {
        onComplete: (outcome) => metrics?.observe(outcome),
        onTcpClosed: (record) => metrics?.observeTcp(record),
        onUdpClosed: (record) => metrics?.observeUdp(record),
        onRefused: (entrypoint, refusal) => metrics?.refused(entrypoint, refusal),
        onAcceptFailure: (entrypoint, failure) => metrics?.acceptFailed(entrypoint, failure.reason),
        internal,
        acme,
      }, { autoConnections: autoMax })
      : Runtime.start(config, {}, {
        listen: false,
        portOf: (name) => pool?.port(name),
        connections: shared.connections,
        counters: shared.counters,
      }, { cellFor: shared.cellFor });
    metrics = new Metrics({
      config: () => runtime!.config,
      clientConnections: () => runtime!.clientConnections(),
      upstreamConnections: () => runtime!.upstreamConnections(),
      http2Counters: () => runtime!.http2Counters(),
      compression: compressionStats,
    });
    control = new ControlMetrics({
      config: () => runtime!.config,
      servers: () => runtime!.servers(),
      obtainedCertificates: (entrypoint) => acme.certificates(entrypoint),
      openFiles: openFileCount,
      maxFiles: () => openFileLimit()?.soft ?? null,
      maxConnections: () => limitOf(runtime!.config.limits.maxConnections, autoMax),
      requestsInFlight: () => runtime!.clients.requests,
      maxRequestsInFlight: () =>
        limitOf(runtime!.config.limits.maxRequestsInFlight, autoRequests(autoMax)),
      adminRefusals: ADMIN_REFUSALS,
    });
    metrics.configure(config);
    if (shared !== null) {
      const change = shared.change(runtime.snapshot);
      shared.retire(runtime.snapshot, runtime.snapshot);
      try {
        pool = await WorkerPool.start(count, { ...change, ports: {} }, shared.buffers, obtained(), {
          logging,
          autoConnections: autoMax,
          onFailure: opts.onWorkerFailure,
          module: opts.workerModule,
          stallMs: opts.workerStallMs,
          startMs: opts.workerStartMs,
          challenge: (token) => acme.challenge(token),
          exposition: text,
        });
      } catch (err) {
        await acme.stop();
        await runtime.shutdown();
        throw err;
      }
    }
    acme.start();
    const workers = pool === null || shared === null ? null : { pool, shared };
    const gatehouse = new Gatehouse(runtime, metrics, control, acme, opts, workers);
    // The main isolate's: with worker isolates, only it watches Docker.
    gatehouse.docker.registerMetrics(control.registry);
    try {
      gatehouse.#syncAdmin(config);
    } catch (err) {
      await acme.stop();
      await pool?.stop(config.timeouts.drain);
      await runtime.shutdown();
      throw err;
    }
    if (since !== null) await gatehouse.reloader.watch(since);
    await gatehouse.docker.configure(config);
    return gatehouse;
  }

  /** The admin endpoint's bound port, or null when it is off. */
  get adminPort(): number | null {
    return this.#admin?.port ?? null;
  }

  /** The bound port of an entrypoint (the real one when the config said 0). */
  port(entrypoint: string): number | undefined {
    return this.runtime.port(entrypoint);
  }

  /** Worker isolates carrying the traffic (1: this isolate carries it). */
  get workers(): number {
    return this.#pool?.size ?? 1;
  }

  /** The data-path metric samples of each isolate carrying traffic (summed at scrape time). */
  async dataSamples(): Promise<MetricSamples[]> {
    return this.#pool === null ? [await this.metrics.samples()] : await this.#pool.samples();
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Reloads the config file now. */
  reload(reason: string): Promise<ReloadResult> {
    return this.reloader.reload(reason);
  }

  /** Drains (bounded by timeouts.drain) and stops everything. */
  async stop(): Promise<void> {
    this.#draining = true;
    this.reloader.close();
    await this.docker.stop();
    await this.acme.stop();
    await this.#pool?.stop(this.runtime.config.timeouts.drain);
    await this.runtime.shutdown();
    await this.#admin?.close();
    this.#admin = null;
  }

  async #onReload(result: ReloadResult, applied: Config | null): Promise<void> {
    this.control.reloaded(result.ok);
    this.docker.onReload(result);
    if (applied === null) return;
    // Not awaited: a restarted provider's first list is applied by a reload of its own.
    this.docker.configure(applied).catch((err) => {
      logger.error("{error}", { error: (err as Error).message });
    });
    if (applied.workers !== this.#workersSetting) {
      logger.warning(
        "workers changed to {next} in the config: still {count} (the count is read at start)",
        { next: applied.workers, count: this.workers },
      );
      this.#workersSetting = applied.workers;
    }
    this.metrics.configure(applied);
    await this.acme.configure(applied);
    if (this.#logging) await setupLogging(applied.log);
    try {
      this.#syncAdmin(applied);
    } catch (err) {
      logger.error("{error}", { error: (err as Error).message });
    }
  }

  /** Starts, moves or stops the admin endpoint to match `config.admin.address`. */
  #syncAdmin(config: Config): void {
    const token = readAdminToken(config.admin.tokenEnv);
    if (config.admin.address !== null && token.kind === "unavailable") {
      logger.error("{reason}: /metrics, /status and /reload refuse every request", {
        reason: token.reason,
      });
    }
    const a = config.admin.address;
    const key = a === null ? "" : `${a.hostname}:${a.port}`;
    if (key === this.#adminKey && (this.#admin !== null) === (a !== null)) return;
    const old = this.#admin;
    this.#admin = null;
    old?.close();
    this.#adminKey = key;
    if (a === null) return;
    this.#admin = startAdmin(a, {
      ready: () => !this.#draining,
      draining: () => this.#draining,
      metrics: async () => ({
        contentType: EXPOSITION_TYPE,
        text: await exposition([...await this.dataSamples(), await this.control.samples()]),
      }),
      status: async () =>
        statusDocument({
          loads: await this.#pool?.loads(),
          snapshot: this.runtime.snapshot,
          startedAt: this.startedAt,
          draining: this.#draining,
          workers: this.workers,
          lastReload: this.reloader.last,
          connections: (name) => this.runtime.clients.count(name),
          acme: this.acme.status(),
          docker: this.docker.status(),
        }),
      reload: () => this.reload("admin"),
      token: () => readAdminToken(this.runtime.config.admin.tokenEnv),
      refused: (reason) => this.control.adminRefused(reason),
    }, (failure) => this.#adminFailures.report("admin", failure));
  }
}

/**
 * Reloads of a multi-worker Gatehouse: the main runtime builds the new snapshot (health checks,
 * server slots), every worker prepares it, and only when all could does any commit.
 */
function workerTarget(runtime: Runtime, pool: WorkerPool, shared: SharedState): ReloadTarget {
  return {
    get config() {
      return runtime.config;
    },
    async apply(config) {
      const old = runtime.snapshot;
      const prepared = runtime.prepare(config, { cellFor: shared.cellFor });
      try {
        await pool.apply(shared.change(prepared.snapshot));
      } catch (err) {
        prepared.abort();
        shared.forget();
        throw err;
      }
      prepared.commit();
      shared.retire(old, prepared.snapshot);
    },
  };
}
