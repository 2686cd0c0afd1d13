/**
 * Automatic HTTPS at run time: one certificate per host name of the ACME plan (plan.ts), loaded
 * from storage when a valid one is there, otherwise obtained; renewed when the CA's renewal
 * window (ARI) or the configured share of the lifetime says; failures retried with bounded
 * exponential backoff while the current certificate keeps being served. Attempts run one at a
 * time. A new certificate reaches new handshakes through `onCertificates` (the runtime rebuilds
 * its certificate stores); open connections keep theirs.
 *
 * Tested by: acme_test.ts (issue, store, reuse after a restart), renewal_test.ts (renewal,
 * failures and retry), ari_test.ts (renewal windows).
 *
 * @module
 */
import type { AcmeSettings, CertificateFile, Config } from "../config/types.ts";
import { log } from "../telemetry/log.ts";
import { ariCertId, backoff, lifetimeRenewal, windowRenewal } from "./ari.ts";
import { AcmeClient } from "./client.ts";
import { type Http01Tokens, obtain } from "./issue.ts";
import { acmePlan } from "./plan.ts";
import { AcmeStorage, certificate, type StoredCertificate } from "./storage.ts";

const logger = log("acme");

/** How often to ask the CA's renewal information again when it names no time (RFC 9773). */
const ARI_RECHECK_MS = 6 * 3_600_000;
/** Bounds for the CA's Retry-After on renewal information. */
const ARI_MIN_MS = 60_000;
const ARI_MAX_MS = 24 * 3_600_000;
/** Longest single timer: wakes up to re-check after clock jumps (and under setTimeout's limit). */
const MAX_TIMER_MS = 3_600_000;

/** What the manager tells the rest of Gatehouse. */
export interface AcmeEvents {
  /** The obtained certificates changed: rebuild the TLS certificate stores. */
  readonly onCertificates: () => void;
  /** An attempt to obtain a certificate ended. */
  readonly onAttempt?: (host: string, result: "valid" | "failed") => void;
}

/** One managed host name, as the admin status shows it. */
export interface AcmeHostStatus {
  readonly host: string;
  readonly entrypoints: readonly string[];
  readonly certificate: {
    readonly certFile: string;
    readonly keyFile: string;
    readonly serial: string;
    readonly notBefore: string;
    readonly notAfter: string;
  } | null;
  /** When the current certificate is due for renewal (null: none yet). */
  readonly renewAt: string | null;
  /** When the next attempt or renewal check runs (null: running now). */
  readonly nextAttempt: string | null;
  /** Consecutive failed attempts. */
  readonly failures: number;
  readonly lastError: { readonly at: string; readonly message: string } | null;
  readonly lastObtained: string | null;
}

interface Job {
  readonly host: string;
  entrypoints: readonly string[];
  current: StoredCertificate | null;
  /** Epoch ms of the next attempt or renewal check. */
  due: number;
  renewAt: Date | null;
  /** The moment picked in the CA's window, kept while the window stays the same. */
  picked: { window: string; at: Date } | null;
  failures: number;
  lastError: { at: Date; message: string } | null;
  lastObtained: Date | null;
  running: boolean;
}

export class AcmeManager {
  readonly #events: AcmeEvents;
  readonly #jobs = new Map<string, Job>();
  readonly #tokens: Http01Tokens = new Map();
  readonly #abort = new AbortController();
  #settings: AcmeSettings | null = null;
  #storage: AcmeStorage | null = null;
  #client: Promise<AcmeClient> | null = null;
  #settingsKey = "";
  #skipped = "";
  #configuring: Promise<void> = Promise.resolve();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #working: Promise<void> | null = null;
  #started = false;

  constructor(events: AcmeEvents) {
    this.#events = events;
  }

  /**
   * Takes the plan of `config`: loads stored certificates of new host names (before it
   * resolves, so the first handshakes can use them) and schedules what has to be obtained.
   */
  configure(config: Config): Promise<void> {
    this.#configuring = this.#configuring.then(() => this.#configure(config)).catch((err) => {
      logger.error("Cannot apply the ACME settings: {error}", { error: (err as Error).message });
    });
    return this.#configuring;
  }

  /** Starts obtaining and renewing (once the entrypoints that answer challenges listen). */
  start(): void {
    this.#started = true;
    this.#schedule();
  }

  /** The key authorization for an HTTP-01 token being proved, or null. */
  challenge(token: string): string | null {
    return this.#tokens.get(token) ?? null;
  }

  /** Certificates to serve on `entrypoint`. */
  certificates(entrypoint: string): CertificateFile[] {
    const out: CertificateFile[] = [];
    for (const job of this.#jobs.values()) {
      if (job.current !== null && job.entrypoints.includes(entrypoint)) out.push(job.current.file);
    }
    return out;
  }

  /** The state of every managed host name. */
  status(): AcmeHostStatus[] {
    return [...this.#jobs.values()].map((job) => ({
      host: job.host,
      entrypoints: job.entrypoints,
      certificate: job.current === null ? null : {
        certFile: job.current.file.certFile,
        keyFile: job.current.file.keyFile,
        serial: job.current.file.serial,
        notBefore: job.current.notBefore.toISOString(),
        notAfter: job.current.file.notAfter.toISOString(),
      },
      renewAt: job.renewAt?.toISOString() ?? null,
      nextAttempt: job.running ? null : new Date(job.due).toISOString(),
      failures: job.failures,
      lastError: job.lastError && {
        at: job.lastError.at.toISOString(),
        message: job.lastError.message,
      },
      lastObtained: job.lastObtained?.toISOString() ?? null,
    }));
  }

  /** Stops timers and cancels an attempt in progress. */
  async stop(): Promise<void> {
    this.#abort.abort(new Error("Gatehouse is stopping"));
    clearTimeout(this.#timer);
    await this.#configuring;
    await this.#working;
    (await this.#client?.catch(() => null))?.close();
  }

  async #configure(config: Config): Promise<void> {
    if (this.#abort.signal.aborted) return;
    const plan = acmePlan(config);
    const skipped = plan.skipped.map((s) => `${s.host}: ${s.reason}`).join("\n");
    if (skipped !== this.#skipped) {
      for (const s of plan.skipped) logger.warning("No ACME certificate for {host}: {reason}", s);
      this.#skipped = skipped;
    }
    const s = config.acme;
    const key = JSON.stringify([s.directory, s.caPem, s.email, s.storage, s.timeout]);
    const newCa = key !== this.#settingsKey;
    this.#settings = s;
    if (newCa) {
      this.#settingsKey = key;
      (await this.#client?.catch(() => null))?.close();
      this.#client = null;
      this.#storage = new AcmeStorage(s.storage, s.directory);
    }
    for (const host of this.#jobs.keys()) if (!plan.hosts.has(host)) this.#jobs.delete(host);
    for (const [host, entrypoints] of plan.hosts) {
      let job = this.#jobs.get(host);
      if (job === undefined || newCa) {
        const stored = await this.#load(host);
        job = this.#newJob(host, stored ?? job?.current ?? null);
        this.#jobs.set(host, job);
      }
      job.entrypoints = entrypoints;
    }
    this.#events.onCertificates();
    this.#schedule();
  }

  #newJob(host: string, current: StoredCertificate | null): Job {
    return {
      host,
      entrypoints: [],
      current,
      due: Date.now(),
      renewAt: null,
      picked: null,
      failures: 0,
      lastError: null,
      lastObtained: null,
      running: false,
    };
  }

  /** A usable stored certificate for `host`, or null (a broken one is logged and ignored). */
  async #load(host: string): Promise<StoredCertificate | null> {
    try {
      const stored = await this.#storage!.load(host);
      if (stored !== null) {
        logger.info("Loaded the ACME certificate for {host} from {file}, valid until {notAfter}", {
          host,
          file: stored.file.certFile,
          notAfter: stored.file.notAfter.toISOString(),
        });
      }
      return stored;
    } catch (err) {
      logger.warning("Ignoring the stored ACME certificate for {host}: {error}", {
        host,
        error: (err as Error).message,
      });
      return null;
    }
  }

  /** Arms one timer for the earliest due job (none while an attempt runs). */
  #schedule(): void {
    clearTimeout(this.#timer);
    if (!this.#started || this.#working !== null || this.#abort.signal.aborted) return;
    if (this.#jobs.size === 0) return;
    const next = Math.min(...[...this.#jobs.values()].map((job) => job.due));
    const wait = Math.min(Math.max(0, next - Date.now()), MAX_TIMER_MS);
    this.#timer = setTimeout(() => {
      this.#working = this.#work().finally(() => {
        this.#working = null;
        this.#schedule();
      });
    }, wait);
  }

  /** Runs every due job, one at a time. */
  async #work(): Promise<void> {
    for (;;) {
      if (this.#abort.signal.aborted) return;
      const now = Date.now();
      const job = [...this.#jobs.values()].filter((j) => j.due <= now)
        .sort((a, b) => a.due - b.due)[0];
      if (job === undefined) return;
      job.running = true;
      try {
        await this.#run(job);
      } catch (err) {
        if (this.#abort.signal.aborted) return;
        this.#failed(job, err as Error);
      } finally {
        job.running = false;
      }
    }
  }

  async #run(job: Job): Promise<void> {
    if (job.current !== null && job.failures === 0) {
      const { at, recheck } = await this.#renewalTime(job.current, job);
      job.renewAt = at;
      if (at.getTime() > Date.now()) {
        job.due = Math.min(at.getTime(), recheck);
        return;
      }
    }
    await this.#obtain(job);
  }

  /**
   * When `current` should be renewed: in the CA's suggested window when the directory offers
   * renewal information, else after `renewAt` of its lifetime; and when to ask the CA again.
   */
  async #renewalTime(current: StoredCertificate, job: Job): Promise<{ at: Date; recheck: number }> {
    const lifetime = lifetimeRenewal(
      current.notBefore,
      current.file.notAfter,
      this.#settings!.renewAt,
    );
    const id = await ariCertId(current.file.certPem);
    if (id === null) return { at: lifetime, recheck: Infinity };
    try {
      const info = await (await this.#acmeClient(false)).renewalInfo(id);
      if (info === null) return { at: lifetime, recheck: Infinity };
      const window = `${info.start.toISOString()}/${info.end.toISOString()}`;
      if (job.picked?.window !== window) {
        job.picked = { window, at: windowRenewal(info.start, info.end) };
      }
      const wait = Math.min(Math.max(info.retryAfterMs ?? ARI_RECHECK_MS, ARI_MIN_MS), ARI_MAX_MS);
      return { at: job.picked.at, recheck: Date.now() + wait };
    } catch (err) {
      if (this.#abort.signal.aborted) throw err;
      logger.debug("No renewal information for {host}: {error}", {
        host: job.host,
        error: (err as Error).message,
      });
      return { at: lifetime, recheck: Date.now() + ARI_RECHECK_MS };
    }
  }

  async #obtain(job: Job): Promise<void> {
    const settings = this.#settings!;
    const { host } = job;
    const renewing = job.current !== null;
    logger.info(`${renewing ? "Renewing" : "Requesting"} the certificate for {host} from {ca}`, {
      host,
      ca: settings.directory,
    });
    const client = await this.#acmeClient(true);
    const ari = (await client.directory()).renewalInfo !== undefined;
    const replaces = renewing && ari ? await ariCertId(job.current!.file.certPem) : null;
    const issued = await obtain(client, [host], this.#tokens, replaces);
    const stored = await this.#store(host, issued.certPem, issued.keyPem);
    job.current = stored;
    job.failures = 0;
    job.lastError = null;
    job.lastObtained = new Date();
    job.picked = null;
    job.renewAt = lifetimeRenewal(stored.notBefore, stored.file.notAfter, this.#settings!.renewAt);
    job.due = Math.min(job.renewAt.getTime(), Date.now() + ARI_RECHECK_MS);
    logger.info(
      "Obtained a certificate for {host} (serial {serial}, valid until {notAfter}): " +
        "new connections get it now",
      { host, serial: stored.file.serial, notAfter: stored.file.notAfter.toISOString() },
    );
    this.#events.onAttempt?.(host, "valid");
    this.#events.onCertificates();
  }

  /** Stores a new certificate; when the disk refuses, serves it anyway and says so. */
  async #store(host: string, certPem: string, keyPem: string): Promise<StoredCertificate> {
    try {
      return await this.#storage!.save(host, certPem, keyPem);
    } catch (err) {
      const { certFile, keyFile } = this.#storage!.paths(host);
      const served = certificate(host, certPem, keyPem, certFile, keyFile);
      logger.error("{error}: serving the new certificate for {host} from memory only", {
        host,
        error: (err as Error).message,
      });
      return served;
    }
  }

  #failed(job: Job, err: Error): void {
    const settings = this.#settings!;
    job.failures++;
    job.lastError = { at: new Date(), message: err.message };
    const wait = backoff(job.failures, settings.retryInitial, settings.retryMax);
    job.due = Date.now() + wait;
    const current = job.current;
    const serving = current === null
      ? "no certificate for it yet, so its handshakes are refused"
      : `still serving the certificate valid until ${current.file.notAfter.toISOString()}`;
    logger.error(
      "Cannot obtain a certificate for {host} (attempt {failures}): {error}; {serving}; " +
        "next attempt in {wait}s",
      { host: job.host, failures: job.failures, error: err.message, serving, wait: wait / 1000 },
    );
    this.#events.onAttempt?.(job.host, "failed");
  }

  /** The ACME client; with `account`, also registered (account found or created). */
  async #acmeClient(account: boolean): Promise<AcmeClient> {
    const settings = this.#settings!;
    const storage = this.#storage!;
    this.#client ??= storage.accountKey().then((accountKey) =>
      new AcmeClient({
        directoryUrl: settings.directory,
        accountKey,
        caPem: settings.caPem,
        timeoutMs: settings.timeout,
        signal: this.#abort.signal,
      })
    ).catch((err) => {
      this.#client = null;
      throw err;
    });
    const client = await this.#client;
    if (account && !client.registered) {
      const url = await client.account(settings.email === null ? [] : [`mailto:${settings.email}`]);
      const terms = (await client.directory()).meta?.termsOfService ?? "(none given)";
      logger.info("Using ACME account {url}; terms of service agreed: {terms}", { url, terms });
    }
    return client;
  }
}
