/**
 * Hot reload: on a change of the config file or of any file it references (certificates, keys,
 * CA files), on SIGHUP, or on the admin API's POST /reload. The whole new config is parsed and
 * validated before anything changes; a config with errors is refused, every error logged with
 * its file:line:column, and the running config stays in force.
 *
 * Watching the parent directories (not the files) catches editors that save by writing a new
 * file and renaming it over the old one, and Kubernetes ConfigMaps, which swap a `..data`
 * symlink. Events are debounced, and a content fingerprint skips reloads that change nothing.
 */
import { dirname, resolve } from "node:path";
import { type Config, formatConfigError, loadConfig } from "../config/mod.ts";
import { log } from "../telemetry/log.ts";
import type { Runtime } from "./runtime.ts";

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
}

export interface ReloaderOptions {
  /** Called after every attempt, with the new config when it was applied. */
  readonly onResult?: (result: ReloadResult, applied: Config | null) => void | Promise<void>;
  /** Quiet time after the last file event before reloading. */
  readonly debounceMs?: number;
}

export class Reloader {
  readonly #runtime: Runtime;
  readonly #opts: ReloaderOptions;
  #last: ReloadResult | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  #watcher: Deno.FsWatcher | null = null;
  #watched = "";
  #timer: ReturnType<typeof setTimeout> | undefined;
  #fingerprint = "";
  #closed = false;

  constructor(runtime: Runtime, opts: ReloaderOptions = {}) {
    this.#runtime = runtime;
    this.#opts = opts;
  }

  /** The outcome of the last reload, null before the first. */
  get last(): ReloadResult | null {
    return this.#last;
  }

  /** Starts watching the files of the running config. */
  async watch(): Promise<void> {
    this.#fingerprint = await fingerprint(this.#runtime.config.files);
    this.#rewatch();
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
    this.#stopWatching();
  }

  async #reload(reason: string): Promise<ReloadResult> {
    const current = this.#runtime.config;
    // Taken before reading: a change that lands while this reload runs differs from it, so
    // the next check reloads again instead of missing it.
    const seen = await fingerprint(current.files);
    const loaded = await loadConfig(current.source);
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
        this.#runtime.apply(loaded.config);
        applied = loaded.config;
        this.#fingerprint = seen;
        logger.info("Reloaded ({reason}): version {version}", {
          reason,
          version: loaded.config.version,
        });
        result = this.#record(true, reason, loaded.config.version, []);
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
    if (applied !== null && this.#watcher !== null) {
      this.#rewatch();
      this.#schedule();
    }
    return result;
  }

  #record(ok: boolean, reason: string, version: string, errors: string[]): ReloadResult {
    this.#last = { ok, reason, at: new Date().toISOString(), version, errors };
    return this.#last;
  }

  /** Watches the directories holding the config's files (restarted when they change). */
  #rewatch(): void {
    if (this.#closed) return;
    const dirs = [...new Set(this.#runtime.config.files.flatMap(watchDirs))].sort();
    const key = dirs.join("\n");
    if (key === this.#watched && this.#watcher !== null) return;
    this.#stopWatching();
    this.#watched = key;
    const existing = dirs.filter((d) => {
      try {
        return Deno.statSync(d).isDirectory;
      } catch {
        return false;
      }
    });
    if (existing.length === 0) return;
    const watcher = Deno.watchFs(existing, { recursive: false });
    this.#watcher = watcher;
    (async () => {
      try {
        for await (const _ of watcher) this.#schedule();
      } catch {
        // closed
      }
    })();
  }

  #stopWatching(): void {
    try {
      this.#watcher?.close();
    } catch {
      // already closed
    }
    this.#watcher = null;
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(async () => {
      const now = await fingerprint(this.#runtime.config.files);
      if (now === this.#fingerprint || this.#closed) return;
      this.#fingerprint = now;
      await this.reload("file change");
    }, this.#opts.debounceMs ?? 150);
  }
}

/**
 * The directories to watch for `file`: its own, and those of every symlink hop on the way to
 * the real file (a ConfigMap's `gatehouse.yaml -> ..data/gatehouse.yaml` swaps `..data`).
 */
function watchDirs(file: string): string[] {
  const dirs = [dirname(file)];
  let path = file;
  for (let hop = 0; hop < 8; hop++) {
    let target: string;
    try {
      target = Deno.readLinkSync(path);
    } catch {
      break;
    }
    path = resolve(dirname(path), target);
    dirs.push(dirname(path));
  }
  try {
    dirs.push(dirname(Deno.realPathSync(file)));
  } catch {
    // missing: the directory of the path itself is watched
  }
  return dirs;
}

/** A digest of the files' contents (missing files count as empty with a marker). */
async function fingerprint(files: readonly string[]): Promise<string> {
  const parts: Uint8Array[] = [];
  for (const f of files) {
    try {
      parts.push(await Deno.readFile(f));
    } catch {
      parts.push(new TextEncoder().encode(`\u0000missing:${f}`));
    }
    parts.push(new Uint8Array([0]));
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
