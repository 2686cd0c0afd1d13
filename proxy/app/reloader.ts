/**
 * Hot reload: on a change of the config file or of any file it references (certificates, keys,
 * CA files), on SIGHUP, or on the admin API's POST /reload. The whole new config is parsed and
 * validated before anything changes; a config with errors is refused, every error logged with
 * its file:line:column, and the running config stays in force.
 *
 * The files are polled (a stat every POLL_MS), not watched with inotify: Deno's watcher thread
 * opens files of the watched directory, and blocks for good on a FIFO there, which stops every
 * later reload and hangs the process's exit; inotify also misses edits made through some bind
 * mounts (Docker Desktop, network file systems). Stat follows symlinks, so an editor's save by
 * rename and a Kubernetes ConfigMap's `..data` symlink swap both show as a new inode. A change
 * is debounced, and a content fingerprint skips reloads that change nothing.
 */
import {
  type Config,
  type ConfigFragment,
  formatConfigError,
  formatConfigWarning,
  loadConfig,
} from "../config/mod.ts";
import { log } from "../telemetry/log.ts";
import { concatBytes } from "../bytes.ts";
import { prepareSockets } from "../listen/listener.ts";

const logger = log("reload");

export interface ReloadResult {
  readonly ok: boolean;
  /** What asked for it: "file change", "SIGHUP", "admin". */
  readonly reason: string;
  /** ISO time the reload finished. */
  readonly at: string;
  /** Version of the config in force afterwards. */
  readonly version: string;
  /** Every error, formatted `file:line:col path: message` (empty when ok). */
  readonly errors: readonly string[];
  /** Errors in container labels (app/docker_source.ts): those were left out, the rest applied. */
  readonly labelErrors?: readonly string[];
  /** Warnings about container labels, like a Traefik label that was not translated. */
  readonly labelWarnings?: readonly string[];
}

/** What a reload changes: the running config, and how a new one is applied. */
export interface ReloadTarget {
  readonly config: Config;
  /** Applies `config` everywhere, or throws (with a readable message) having changed nothing. */
  apply(config: Config): void | Promise<void>;
}

export interface ReloaderOptions {
  /**
   * Called with the config file's path (and the fragments to merge) before each reload reads it
   * (e.g. to add a new route's name to the development certificate, which the reload then loads).
   */
  readonly beforeLoad?: (path: string, fragments: readonly ConfigFragment[]) => Promise<void>;
  /** Routes and services from other sources (container labels), merged into every load. */
  readonly fragments?: () => readonly ConfigFragment[];
  /** Called after every attempt, with the new config when it was applied. */
  readonly onResult?: (result: ReloadResult, applied: Config | null) => void | Promise<void>;
}

/** How often the config's files are checked for changes. */
const POLL_MS = 250;
/** Quiet time after a change is seen before reloading (an editor may write in steps). */
const DEBOUNCE_MS = 150;

export class Reloader {
  readonly #target: ReloadTarget;
  readonly #opts: ReloaderOptions;
  #last: ReloadResult | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  #polling = false;
  #pollTimer: ReturnType<typeof setTimeout> | undefined;
  #stamp = "";
  #timer: ReturnType<typeof setTimeout> | undefined;
  #fingerprint = "";
  #closed = false;

  constructor(target: ReloadTarget, opts: ReloaderOptions = {}) {
    this.#target = target;
    this.#opts = opts;
  }

  /** The outcome of the last reload, null before the first. */
  get last(): ReloadResult | null {
    return this.#last;
  }

  /**
   * Starts checking the files of the running config for changes: changes since `since` (taken
   * before the start listened, so that a change made while it started is not missed), or from
   * now.
   */
  async watch(since?: FilesState): Promise<void> {
    const state = since ?? await filesState(this.#target.config.files);
    this.#fingerprint = state.fingerprint;
    this.#stamp = state.stamp;
    this.#polling = true;
    this.#poll();
  }

  /** Loads and applies the config file now (one reload at a time, in order). */
  reload(reason: string): Promise<ReloadResult> {
    const next = this.#queue.then(() => this.#reload(reason));
    this.#queue = next.catch(() => {});
    return next;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#pollTimer);
  }

  async #reload(reason: string): Promise<ReloadResult> {
    const current = this.#target.config;
    const fragments = this.#opts.fragments?.() ?? [];
    await this.#opts.beforeLoad?.(current.source, fragments);
    // Taken before reading: a change that lands while this reload runs differs from it, so
    // the next check reloads again instead of missing it.
    const seen = await fingerprint(current.files);
    const loaded = await loadConfig(current.source, fragments);
    let result: ReloadResult;
    let applied: Config | null = null;
    if (!loaded.ok) {
      const errors = loaded.errors.map(formatConfigError);
      for (const error of errors) logger.error("{error}", { error });
      logger.error("Reload ({reason}) rejected with {count} error(s): {version} stays in force", {
        reason,
        count: errors.length,
        version: current.version,
      });
      result = this.#record(false, reason, current.version, errors);
    } else {
      try {
        await prepareSockets(loaded.config);
        await this.#target.apply(loaded.config);
        applied = loaded.config;
        this.#fingerprint = seen;
        logger.info("Reloaded ({reason}): config={version}", {
          reason,
          version: loaded.config.version,
        });
        // Label warnings are logged by the Docker source when they are new, not every time.
        for (const w of loaded.warnings.filter((w) => !w.label)) {
          logger.warning("{warning}", { warning: formatConfigWarning(w) });
        }
        result = this.#record(true, reason, loaded.config.version, [], {
          labelErrors: loaded.skipped.map(formatConfigError),
          labelWarnings: loaded.warnings.filter((w) => w.label).map(formatConfigWarning),
        });
      } catch (err) {
        const error = `Cannot apply the new config: ${(err as Error).message}`;
        logger.error("Reload ({reason}) failed: {error}; {version} stays in force", {
          reason,
          error,
          version: current.version,
        });
        result = this.#record(false, reason, current.version, [error]);
      }
    }
    await this.#opts.onResult?.(result, applied);
    // The new config may name other files: compare their contents with what was read.
    if (applied !== null && this.#polling) this.#schedule();
    return result;
  }

  #record(
    ok: boolean,
    reason: string,
    version: string,
    errors: string[],
    labels = { labelErrors: [] as string[], labelWarnings: [] as string[] },
  ): ReloadResult {
    this.#last = { ok, reason, at: new Date().toISOString(), version, errors, ...labels };
    return this.#last;
  }

  #poll(): void {
    if (this.#closed) return;
    this.#pollTimer = setTimeout(async () => {
      const stamp = await statStamp(this.#target.config.files);
      if (stamp !== this.#stamp && !this.#closed) {
        this.#stamp = stamp;
        this.#schedule();
      }
      this.#poll();
    }, POLL_MS);
    Deno.unrefTimer(this.#pollTimer);
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(async () => {
      const now = await fingerprint(this.#target.config.files);
      if (now === this.#fingerprint || this.#closed) return;
      this.#fingerprint = now;
      await this.reload("file change");
    }, DEBOUNCE_MS);
  }
}

/** Identity, size and times of each file (following symlinks): changes when a file does. */
/** What the files of a config hold and their stat stamps, at one moment. */
export interface FilesState {
  readonly fingerprint: string;
  readonly stamp: string;
}

/** The state of `files` now, for `Reloader.watch`. */
export async function filesState(files: readonly string[]): Promise<FilesState> {
  return { fingerprint: await fingerprint(files), stamp: await statStamp(files) };
}

async function statStamp(files: readonly string[]): Promise<string> {
  let stamp = "";
  for (const f of files) {
    try {
      const st = await Deno.stat(f);
      stamp += `${st.dev}:${st.ino}:${st.size}:${st.mtime?.getTime()}:${st.ctime?.getTime()}\n`;
    } catch {
      stamp += "missing\n";
    }
  }
  return stamp;
}

/** A digest of the files' contents (missing or irregular files count as a marker). */
async function fingerprint(files: readonly string[]): Promise<string> {
  const parts: Uint8Array[] = [];
  for (const f of files) {
    try {
      // Only regular files are read: opening a FIFO would wait for a writer forever.
      if (!(await Deno.stat(f)).isFile) throw new Error("not a regular file");
      parts.push(await Deno.readFile(f));
    } catch {
      parts.push(new TextEncoder().encode(`\u0000missing:${f}`));
    }
    parts.push(new Uint8Array([0]));
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", concatBytes(parts)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
