/**
 * The Docker provider: follows the engine's events and keeps the config fragments of the
 * labelled containers up to date. It subscribes to `/events` first and then lists the running
 * containers (so no change between the two is missed); each relevant event schedules a new
 * list shortly after (a burst of events, like `--scale app=3`, makes one), and a list every 30 s
 * catches anything missed. A container sent its stop signal leaves at once, while it still
 * finishes its requests: new ones go to the other replicas.
 *
 * When the API cannot be reached, or the stream breaks, the fragments stay as they were (the
 * routes keep working on the last good list) and the provider reconnects with exponential
 * backoff (0.5 s doubling up to 10 s); the state shows in /status and the metrics.
 *
 * Tested by provider_test.ts (a Docker API on a unix socket) and the e2e tests (the real engine).
 *
 * @module
 */
import type { ConfigFragment } from "../config/fragments.ts";
import type { DockerSettings } from "../config/types.ts";
import { log } from "../telemetry/log.ts";
import { describeEndpoint, DockerApi, type DockerEvent } from "./api.ts";
import { parseContainerList } from "./containers.ts";
import { fragmentsFor, type GroupSummary } from "./sync.ts";
import { monotonicNow } from "../clock.ts";

const logger = log("docker");

/** Container actions that may change what is routed. */
const CONTAINER_ACTIONS = new Set([
  "start",
  "restart",
  "die",
  "stop",
  "kill",
  "pause",
  "unpause",
  "destroy",
  "rename",
  "update",
]);
/** Signals `docker stop` sends (numbers, as the engine reports them, or names). */
const STOP_SIGNALS = new Set(["15", "2", "3", "9", "SIGTERM", "SIGINT", "SIGQUIT", "SIGKILL"]);
/** A container still running this long after its stop signal takes part again. */
const STOPPING_MS = 60_000;
const DEBOUNCE_MS = 100;
const RESYNC_MS = 30_000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 10_000;

/** The provider's state, for /status and the metrics. */
export interface DockerStatus {
  readonly endpoint: string;
  readonly connected: boolean;
  /** When the connection was last made or lost (ISO), null before the first attempt ended. */
  readonly since: string | null;
  /** Why the last attempt or connection failed; null while connected. */
  readonly lastError: string | null;
  /** Connections lost (and attempts that failed) since the start. */
  readonly reconnects: number;
  /** When the containers were last listed (ISO). */
  readonly lastSync: string | null;
  /** "20.10.24 (API 1.41)". */
  readonly engine: string | null;
  /** The labelled groups routed, with their containers. */
  readonly groups: readonly GroupSummary[];
}

export interface DockerProviderOptions {
  readonly settings: DockerSettings;
  /** The config file, named in the `file` of label errors. */
  readonly file: string;
  /** Called with the new fragments whenever they change. */
  readonly onChange: (fragments: readonly ConfigFragment[]) => void;
}

export class DockerProvider {
  readonly settings: DockerSettings;
  readonly #opts: DockerProviderOptions;
  readonly #api: DockerApi;
  readonly #stop = new AbortController();
  readonly #stopping = new Map<string, number>();
  #fragments: readonly ConfigFragment[] = [];
  #fingerprint = "[]";
  #groups: readonly GroupSummary[] = [];
  #connected = false;
  #since: string | null = null;
  #lastError: string | null = null;
  #reconnects = 0;
  #lastSync: string | null = null;
  #engine: string | null = null;
  #synced = Promise.withResolvers<void>();
  #running: Promise<void> | null = null;

  constructor(opts: DockerProviderOptions) {
    this.#opts = opts;
    this.settings = opts.settings;
    this.#api = new DockerApi(opts.settings.endpoint);
  }

  /** The fragments of the last good list. */
  get fragments(): readonly ConfigFragment[] {
    return this.#fragments;
  }

  status(): DockerStatus {
    return {
      endpoint: describeEndpoint(this.settings.endpoint),
      connected: this.#connected,
      since: this.#since,
      lastError: this.#lastError,
      reconnects: this.#reconnects,
      lastSync: this.#lastSync,
      engine: this.#engine,
      groups: this.#groups,
    };
  }

  /** Starts following the engine. */
  start(): void {
    this.#running ??= this.#run();
  }

  /** Resolves after the first list (or its first failure), or after `timeoutMs`. */
  async firstSync(timeoutMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => timer = setTimeout(resolve, timeoutMs));
    await Promise.race([this.#synced.promise, late]);
    clearTimeout(timer);
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#running;
  }

  async #run(): Promise<void> {
    let delay = BACKOFF_FIRST_MS;
    while (!this.#stop.signal.aborted) {
      const connection = new AbortController();
      const signal = AbortSignal.any([this.#stop.signal, connection.signal]);
      let timer: ReturnType<typeof setTimeout> | undefined;
      let resync: ReturnType<typeof setInterval> | undefined;
      let syncing: Promise<void> = Promise.resolve();
      // One list at a time; a failed list ends the connection (and so the events stream).
      const sync = () => {
        syncing = syncing.then(() => this.#sync(signal)).catch((err) => {
          connection.abort(err);
        });
      };
      try {
        const events = await this.#api.events({ type: ["container", "network"] }, signal);
        await this.#sync(signal);
        this.#engine ??= await this.#version(signal);
        this.#connect();
        delay = BACKOFF_FIRST_MS;
        resync = setInterval(sync, RESYNC_MS);
        for await (const event of events) {
          if (!this.#relevant(event)) continue;
          clearTimeout(timer);
          timer = setTimeout(sync, this.#stopping.has(event.Actor.ID) ? 0 : DEBOUNCE_MS);
        }
        throw connection.signal.reason ?? new Error("the events stream ended");
      } catch (err) {
        if (this.#stop.signal.aborted) break;
        const reason = connection.signal.reason ?? err;
        this.#lost(reason instanceof Error ? reason.message : String(reason), delay);
        await sleep(delay, this.#stop.signal);
        delay = Math.min(delay * 2, BACKOFF_MAX_MS);
      } finally {
        clearTimeout(timer);
        clearInterval(resync);
        connection.abort();
        await syncing;
      }
    }
    this.#synced.resolve();
  }

  #relevant(event: DockerEvent): boolean {
    if (event.Type === "network") {
      return event.Action === "connect" || event.Action === "disconnect";
    }
    if (event.Type !== "container") return false;
    const action = event.Action.split(":")[0];
    if (action === "kill" && STOP_SIGNALS.has(event.Actor.Attributes?.signal ?? "")) {
      this.#stopping.set(event.Actor.ID, monotonicNow());
    }
    return CONTAINER_ACTIONS.has(action) || action === "health_status";
  }

  async #sync(signal: AbortSignal): Promise<void> {
    const containers = parseContainerList(await this.#api.json("/containers/json", signal));
    if (signal.aborted) return;
    const now = monotonicNow();
    const listed = new Set(containers.map((c) => c.id));
    for (const [id, at] of this.#stopping) {
      if (!listed.has(id) || now - at > STOPPING_MS) this.#stopping.delete(id);
    }
    const { fragments, groups } = fragmentsFor(
      containers,
      this.settings,
      this.#opts.file,
      new Set(this.#stopping.keys()),
    );
    this.#lastSync = new Date().toISOString();
    this.#groups = groups;
    const fingerprint = JSON.stringify(fragments);
    if (fingerprint === this.#fingerprint) return;
    this.#fingerprint = fingerprint;
    this.#fragments = fragments;
    this.#opts.onChange(fragments);
  }

  async #version(signal: AbortSignal): Promise<string | null> {
    try {
      const v = await this.#api.json("/version", signal) as Record<string, unknown>;
      return `${v.Version} (API ${v.ApiVersion})`;
    } catch {
      return null;
    }
  }

  #connect(): void {
    this.#connected = true;
    this.#since = new Date().toISOString();
    this.#lastError = null;
    this.#synced.resolve();
    logger.info("Following the Docker API at {endpoint} ({engine}): {count} labelled group(s)", {
      endpoint: describeEndpoint(this.settings.endpoint),
      engine: this.#engine ?? "version unknown",
      count: this.#groups.length,
    });
  }

  #lost(error: string, delay: number): void {
    const was = this.#connected;
    this.#connected = false;
    this.#since = new Date().toISOString();
    this.#lastError = error;
    this.#reconnects++;
    this.#synced.resolve();
    const kept = this.#groups.length;
    // Every lost connection is logged; failed retries only while they are rare.
    if (was || this.#reconnects <= 3 || delay >= BACKOFF_MAX_MS && this.#reconnects % 6 === 0) {
      logger.warning(
        "{error}; keeping the routes of {kept} container group(s), trying again in {seconds} s",
        { error, kept, seconds: delay / 1000 },
      );
    }
  }
}

/** Waits `ms`, or less when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
