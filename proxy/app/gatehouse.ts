/**
 * A whole Gatehouse: the runtime, metrics, hot reload and the admin endpoint, wired together.
 * main.ts adds the command line and signals; tests start one in-process.
 *
 * Tested by admin/status_test.ts, telemetry/metrics_test.ts, main_test.ts and the acme/ tests,
 * which start a whole Gatehouse in-process.
 */
import { AcmeManager } from "../acme/manager.ts";
import { type AdminServer, readAdminToken, startAdmin } from "../admin/server.ts";
import { statusDocument } from "./status.ts";
import type { Config } from "../config/types.ts";
import type { ConfigFragment } from "../config/fragments.ts";
import { DockerSource } from "./docker_source.ts";
import { HeaderList } from "../proto/header_list.ts";
import type { InternalService } from "../http/context.ts";
import { log, setupLogging } from "../telemetry/log.ts";
import { Metrics } from "../telemetry/metrics.ts";
import { Reloader, type ReloadResult } from "./reloader.ts";
import { Runtime } from "./runtime.ts";
import { prepareSockets } from "../listen/listener.ts";

const logger = log("gatehouse");

export interface GatehouseOptions {
  /** Watch the config's files and reload on change (default true). */
  readonly watch?: boolean;
  /** Configure logging from the config (default true; tests may turn it off). */
  readonly logging?: boolean;
  /** Runs before each reload reads the config file (see `ReloaderOptions.beforeLoad`). */
  readonly beforeReload?: (path: string, fragments: readonly ConfigFragment[]) => Promise<void>;
}

export class Gatehouse {
  readonly runtime: Runtime;
  readonly metrics: Metrics;
  readonly reloader: Reloader;
  /** Automatic HTTPS: certificates from the ACME CA. */
  readonly acme: AcmeManager;
  /** Routes and services from Docker container labels (off unless `docker.enabled`). */
  readonly docker: DockerSource;
  readonly startedAt = new Date();
  #admin: AdminServer | null = null;
  #adminKey = "";
  #draining = false;
  readonly #logging: boolean;

  private constructor(
    runtime: Runtime,
    metrics: Metrics,
    acme: AcmeManager,
    opts: GatehouseOptions,
  ) {
    this.runtime = runtime;
    this.metrics = metrics;
    this.acme = acme;
    this.#logging = opts.logging ?? true;
    this.docker = new DockerSource((reason) => this.reload(reason));
    this.reloader = new Reloader(runtime, {
      beforeLoad: opts.beforeReload,
      fragments: () => this.docker.fragments(),
      onResult: (result, applied) => this.#onReload(result, applied),
    });
  }

  /** Binds every entrypoint and the admin endpoint; throws a readable error if one fails. */
  static async start(config: Config, opts: GatehouseOptions = {}): Promise<Gatehouse> {
    const logging = opts.logging ?? true;
    if (logging) await setupLogging(config.log);
    let metrics: Metrics | null = null;
    let runtime: Runtime | null = null;
    const acme = new AcmeManager({
      onCertificates: () => runtime?.refreshCertificates(),
      onAttempt: (host, result) => metrics?.acmeAttempt(host, result),
    });
    await acme.configure(config);
    const internal = new Map<string, InternalService>([
      ["metrics@internal", async () => {
        const headers = new HeaderList();
        headers.appendLower("content-type", metrics!.contentType);
        headers.appendLower("cache-control", "no-store");
        return { status: 200, headers, body: new TextEncoder().encode(await metrics!.text()) };
      }],
    ]);
    await prepareSockets(config);
    runtime = Runtime.start(config, {
      onComplete: (outcome) => metrics?.observe(outcome),
      onTcpClosed: (record) => metrics?.observeTcp(record),
      onUdpClosed: (record) => metrics?.observeUdp(record),
      onRefused: (entrypoint, refusal) => metrics?.refused(entrypoint, refusal),
      internal,
      acme,
    });
    metrics = new Metrics({
      config: () => runtime!.config,
      clientConnections: () => runtime!.clientConnections(),
      upstreamConnections: () => runtime!.upstreamConnections(),
      servers: () => runtime!.servers(),
      obtainedCertificates: (entrypoint) => acme.certificates(entrypoint),
      http2Counters: () => runtime!.http2Counters(),
    });
    metrics.configure(config);
    acme.start();
    const gatehouse = new Gatehouse(runtime, metrics, acme, opts);
    gatehouse.docker.registerMetrics(metrics.registry);
    try {
      gatehouse.#syncAdmin(config);
    } catch (err) {
      await acme.stop();
      await runtime.shutdown();
      throw err;
    }
    if (opts.watch ?? true) await gatehouse.reloader.watch();
    await gatehouse.docker.configure(config);
    return gatehouse;
  }

  /** The admin endpoint's bound port, or null when it is off. */
  get adminPort(): number | null {
    return this.#admin?.port ?? null;
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
    await this.runtime.shutdown();
    await this.#admin?.close();
    this.#admin = null;
  }

  async #onReload(result: ReloadResult, applied: Config | null): Promise<void> {
    this.metrics.reloaded(result.ok);
    this.docker.onReload(result);
    if (applied === null) return;
    // Not awaited: a restarted provider's first list is applied by a reload of its own.
    this.docker.configure(applied).catch((err) => {
      logger.error("{error}", { error: (err as Error).message });
    });
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
        contentType: this.metrics.contentType,
        text: await this.metrics.text(),
      }),
      status: () =>
        statusDocument({
          snapshot: this.runtime.snapshot,
          startedAt: this.startedAt,
          draining: this.#draining,
          lastReload: this.reloader.last,
          connections: (name) => this.runtime.clients.count(name),
          acme: this.acme.status(),
          docker: this.docker.status(),
        }),
      reload: () => this.reload("admin"),
      token: () => readAdminToken(this.runtime.config.admin.tokenEnv),
    });
  }
}
