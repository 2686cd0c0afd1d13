/**
 * The Docker provider inside a running Gatehouse (the main side: where config is loaded): it is
 * started, restarted or stopped as the config's `docker` section says, its fragments are merged
 * into every reload (app/reloader.ts), and each change of them is applied as a reload, the same
 * hitless snapshot swap a file change makes. Label errors and warnings are logged when new and
 * kept for /status; the connection state goes to /status and the metrics.
 *
 * Tested by docker_source_test.ts (a whole Gatehouse with a Docker API on a unix socket) and the
 * e2e tests.
 *
 * @module
 */
import client from "prom-client";
import type { Config, ConfigFragment, DockerSettings } from "../config/mod.ts";
import { DockerProvider } from "../docker/provider.ts";
import { log } from "../telemetry/log.ts";
import type { ReloadResult } from "./reloader.ts";

const logger = log("docker");

/** How long start-up and a settings change wait for the first list of containers. */
const FIRST_SYNC_MS = 2_000;

export class DockerSource {
  readonly #reload: (reason: string) => Promise<unknown>;
  #provider: DockerProvider | null = null;
  #key = "";
  #fragments: readonly ConfigFragment[] = [];
  #fingerprint = "[]";
  #errors: readonly string[] = [];
  #warnings: readonly string[] = [];
  /** Reconnects counted by providers replaced since the start. */
  #reconnectsBefore = 0;
  #configuring: Promise<unknown> = Promise.resolve();
  /** The last reload asked for by a change of the fragments. */
  #applying: Promise<unknown> = Promise.resolve();

  /** `reload` applies the file with the current fragments (Gatehouse.reload). */
  constructor(reload: (reason: string) => Promise<unknown>) {
    this.#reload = reload;
  }

  /** What the labels add to the config: merged into every load. */
  fragments(): readonly ConfigFragment[] {
    return this.#fragments;
  }

  /**
   * Starts, restarts or stops the provider to match `config.docker`. When it (re)starts, waits
   * up to 2 s for the first list of containers and applies it. Calls run one at a time; do not
   * await it from inside a reload (the reload it makes waits for that one).
   */
  configure(config: Config): Promise<void> {
    const next = this.#configuring.then(() => this.#configure(config));
    this.#configuring = next.catch(() => {});
    return next;
  }

  async #configure(config: Config): Promise<void> {
    const settings = config.docker;
    const key = settings.enabled ? JSON.stringify(settings) : "";
    if (key === this.#key) return;
    this.#key = key;
    const old = this.#provider;
    this.#provider = null;
    if (old) {
      this.#reconnectsBefore += old.status().reconnects;
      await old.stop();
    }
    if (!settings.enabled) {
      if (old) logger.info("Docker provider off: the routes from labels are removed");
      await this.#update([]);
      return;
    }
    const provider = this.#start(settings, config.source);
    await provider.firstSync(FIRST_SYNC_MS);
    // Unreachable: the routes of the last good list stay.
    if (this.#current() === provider && provider.status().connected) {
      await this.#update(provider.fragments);
    }
    await this.#applying;
  }

  /** Records the label errors and warnings in force after a reload, logging the new ones. */
  onReload(result: ReloadResult): void {
    if (!result.ok) return;
    const errors = new Set(this.#errors);
    const labelErrors = result.labelErrors ?? [];
    const labelWarnings = result.labelWarnings ?? [];
    for (const error of labelErrors) {
      if (!errors.has(error)) logger.error("{error}; that container is left out", { error });
    }
    const warnings = new Set(this.#warnings);
    for (const warning of labelWarnings) {
      if (!warnings.has(warning)) logger.warning("{warning}", { warning });
    }
    this.#errors = labelErrors;
    this.#warnings = labelWarnings;
  }

  /** The /status section: null when the provider is off. */
  status(): unknown {
    if (this.#provider === null) return null;
    return { ...this.#provider.status(), errors: this.#errors, warnings: this.#warnings };
  }

  /** Gauges and a counter of the provider's state, read at scrape time. */
  registerMetrics(registry: client.Registry): void {
    const status = () => this.#provider?.status();
    const gauge = (name: string, help: string, value: () => number) =>
      new client.Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(value());
        },
      });
    gauge(
      "gatehouse_docker_connected",
      "1 while the Docker API is followed, 0 when it cannot be reached (the last routes stay) or the provider is off",
      () => status()?.connected ? 1 : 0,
    );
    gauge(
      "gatehouse_docker_containers",
      "Containers routed by their labels",
      () => (status()?.groups ?? []).reduce((n, g) => n + g.containers.length, 0),
    );
    gauge(
      "gatehouse_docker_label_errors",
      "Errors in container labels in force (those containers are left out)",
      () => this.#errors.length,
    );
    gauge(
      "gatehouse_docker_last_sync_timestamp_seconds",
      "When the containers were last listed (unix seconds; 0 before the first list)",
      () => Date.parse(status()?.lastSync ?? "") / 1000 || 0,
    );
    const reconnects = () => this.#reconnectsBefore + (status()?.reconnects ?? 0);
    new client.Counter({
      name: "gatehouse_docker_reconnects_total",
      help: "Connections to the Docker API lost, or attempts that failed",
      registers: [registry],
      collect() {
        this.reset();
        this.inc(reconnects());
      },
    });
  }

  async stop(): Promise<void> {
    const provider = this.#provider;
    this.#provider = null;
    await provider?.stop();
  }

  #current(): DockerProvider | null {
    return this.#provider;
  }

  #start(settings: DockerSettings, file: string): DockerProvider {
    const provider = new DockerProvider({
      settings,
      file,
      onChange: (fragments) => {
        if (this.#current() === provider) void this.#update(fragments);
      },
    });
    this.#provider = provider;
    provider.start();
    return provider;
  }

  async #update(fragments: readonly ConfigFragment[]): Promise<void> {
    const fingerprint = JSON.stringify(fragments);
    if (fingerprint === this.#fingerprint) return;
    this.#fingerprint = fingerprint;
    this.#fragments = fragments;
    this.#applying = this.#reload("docker");
    await this.#applying;
  }
}
