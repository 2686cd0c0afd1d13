/**
 * The metrics the main isolate owns: config reloads, ACME attempts, server health (its active
 * checks and every worker's ejections, read from the shared cells), certificate expiry and the
 * process. At scrape time `exposition` sums them with every worker's data-path samples
 * (metrics.ts) into one text: counters and gauges of the same series add up, so a request
 * served by any worker counts once.
 *
 * Tested by metrics_test.ts (through a whole Gatehouse) and control_metrics_test.ts.
 */
import client from "prom-client";
import type { CertificateFile, Config } from "../config/types.ts";
import { LiteCounter } from "./lite_metrics.ts";
import type { MetricSamples } from "./metrics.ts";

/** Live state the main isolate reads at scrape time. */
export interface ControlSource {
  readonly config: () => Config;
  /** Every server of every service with its health. */
  readonly servers: () => Iterable<{ service: string; url: string; up: boolean }>;
  /** Certificates obtained at run time (ACME) served on an entrypoint. */
  readonly obtainedCertificates?: (entrypoint: string) => Iterable<CertificateFile>;
  /** Descriptors open now; null (or absent) when they cannot be counted: no gauge then. */
  readonly openFiles?: () => number | null;
  /** The open-file (soft) limit; null (or absent) when it cannot be read: no gauge then. */
  readonly maxFiles?: () => number | null;
  /** The client connections admitted at most (`limits.max_connections`, auto worked out); 0 = no limit. */
  readonly maxConnections?: () => number;
  /** Requests in flight now, over all connections and workers. */
  readonly requestsInFlight?: () => number;
  /** The requests in flight admitted at most (`limits.max_requests_in_flight`); 0 = no limit. */
  readonly maxRequestsInFlight?: () => number;
  /** Reasons the admin endpoint refuses requests for, counted from 0. */
  readonly adminRefusals?: readonly string[];
}

export class ControlMetrics {
  readonly registry = new client.Registry();
  readonly #reloads;
  readonly #reloadFailures;
  readonly #lastReloadSuccess;
  readonly #lastReloadTime;
  readonly #acmeOrders;
  readonly #acmeFailures;
  readonly #adminRefused;

  constructor(source: ControlSource) {
    const r = [this.registry];
    const counter = (name: string, help: string, labelNames: string[]) =>
      new LiteCounter(name, help, labelNames, this.registry);
    this.#reloads = counter("gatehouse_config_reloads_total", "Config reloads attempted", []);
    this.#reloadFailures = counter(
      "gatehouse_config_reload_failures_total",
      "Config reloads rejected (the running config stayed)",
      [],
    );
    this.#lastReloadSuccess = new client.Gauge({
      name: "gatehouse_config_last_reload_success",
      help: "1 if the last config load succeeded, 0 if it was rejected",
      registers: r,
    });
    this.#lastReloadTime = new client.Gauge({
      name: "gatehouse_config_last_reload_success_timestamp_seconds",
      help: "Unix time of the last successful config load",
      registers: r,
    });
    this.#acmeOrders = counter(
      "gatehouse_acme_orders_total",
      'Attempts to obtain a certificate from the ACME CA, by result ("valid" or "failed")',
      ["result"],
    );
    this.#acmeFailures = counter(
      "gatehouse_acme_renewal_failures_total",
      "Failed attempts to obtain or renew an ACME certificate, by host name",
      ["host"],
    );
    this.#adminRefused = counter(
      "gatehouse_admin_requests_refused_total",
      "Requests the admin endpoint refused, by reason (malformed, unauthorized, " +
        "token_unavailable)",
      ["reason"],
    );
    for (const reason of source.adminRefusals ?? []) this.#adminRefused.labels(reason).inc(0);
    serverGauges(r, source);
    processGauges(r, source);
    this.#lastReloadSuccess.set(1);
    this.#lastReloadTime.set(Date.now() / 1000);
  }

  /** Records a config load: `ok` false when it was rejected. */
  reloaded(ok: boolean): void {
    this.#reloads.labels().inc();
    this.#lastReloadSuccess.set(ok ? 1 : 0);
    if (ok) this.#lastReloadTime.set(Date.now() / 1000);
    else this.#reloadFailures.labels().inc();
  }

  /** An attempt to obtain or renew an ACME certificate for `host` ended. */
  acmeAttempt(host: string, result: "valid" | "failed"): void {
    this.#acmeOrders.labels(result).inc();
    if (result === "failed") this.#acmeFailures.labels(host).inc();
  }

  /** The admin endpoint refused a request for `reason`. */
  adminRefused(reason: string): void {
    this.#adminRefused.labels(reason).inc();
  }

  samples(): Promise<MetricSamples> {
    return this.registry.getMetricsAsJSON();
  }
}

/** The exposition format's content type. */
export const EXPOSITION_TYPE = client.Registry.PROMETHEUS_CONTENT_TYPE;

/**
 * One exposition text from the samples of several isolates: series with the same name and
 * labels are summed (histogram buckets, sums and counts included), in the order the metrics
 * first appear in `parts`.
 */
export function exposition(parts: readonly MetricSamples[]): Promise<string> {
  return client.AggregatorRegistry.aggregate(parts as MetricSamples[]).metrics();
}

function serverGauges(r: client.Registry[], source: ControlSource): void {
  new client.Gauge({
    name: "gatehouse_service_server_up",
    help: "1 when the server is healthy and not ejected, else 0",
    labelNames: ["service", "url"],
    registers: r,
    collect() {
      this.reset();
      for (const s of source.servers()) this.labels(s.service, s.url).set(s.up ? 1 : 0);
    },
  });
  new client.Gauge({
    name: "gatehouse_tls_certs_not_after",
    help: "Expiry (unix seconds) of each served certificate (files and ACME)",
    labelNames: ["entrypoint", "cn", "sans", "serial"],
    registers: r,
    collect() {
      this.reset();
      for (const [name, ep] of Object.entries(source.config().entrypoints)) {
        if (ep.tls === null) continue;
        const obtained = source.obtainedCertificates?.(name) ?? [];
        for (const cert of [...ep.tls.certificates, ...obtained]) {
          this.labels(name, cert.subject, cert.hosts.join(","), cert.serial)
            .set(cert.notAfter.getTime() / 1000);
        }
      }
    },
  });
}

function processGauges(r: client.Registry[], source: ControlSource): void {
  const started = Date.now() / 1000 - performance.now() / 1000;
  new client.Gauge({
    name: "process_start_time_seconds",
    help: "Start time of the process since unix epoch in seconds",
    registers: r,
    collect() {
      this.set(started);
    },
  });
  new client.Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes",
    registers: r,
    collect() {
      this.set(Deno.memoryUsage().rss);
    },
  });
  new client.Gauge({
    name: "process_heap_bytes",
    help: "V8 heap used in bytes",
    registers: r,
    collect() {
      this.set(Deno.memoryUsage().heapUsed);
    },
  });
  new client.Counter({
    name: "process_cpu_seconds_total",
    help: "Total user and system CPU time spent in seconds",
    registers: r,
    collect() {
      const { user, system } = cpuUsage();
      this.reset();
      this.inc((user + system) / 1e6);
    },
  });
  readGauge(
    r,
    "gatehouse_connections_limit",
    "Client connections admitted at most, over all entrypoints (limits.max_connections; 0 = no limit)",
    source.maxConnections,
  );
  readGauge(
    r,
    "gatehouse_requests_in_flight",
    "Requests in flight over all connections and workers (HTTP/2 streams and open WebSocket tunnels included)",
    source.requestsInFlight,
  );
  readGauge(
    r,
    "gatehouse_requests_in_flight_limit",
    "Requests in flight admitted at most (limits.max_requests_in_flight; 0 = no limit)",
    source.maxRequestsInFlight,
  );
  fileGauge(r, "process_open_fds", "Number of open file descriptors", source.openFiles);
  fileGauge(
    r,
    "process_max_fds",
    "Maximum number of open file descriptors (the soft limit)",
    source.maxFiles,
  );
}

/** A gauge read from `read` at each scrape; none when `read` is absent. */
function readGauge(
  r: client.Registry[],
  name: string,
  help: string,
  read: (() => number) | undefined,
): void {
  if (read === undefined) return;
  new client.Gauge({
    name,
    help,
    registers: r,
    collect() {
      this.set(read());
    },
  });
}

/** A gauge read from `read` at each scrape; none when `read` is absent or reads null at start. */
function fileGauge(
  r: client.Registry[],
  name: string,
  help: string,
  read: (() => number | null) | undefined,
): void {
  if (read === undefined || read() === null) return;
  new client.Gauge({
    name,
    help,
    registers: r,
    collect() {
      this.set(read() ?? 0);
    },
  });
}

function cpuUsage(): { user: number; system: number } {
  return (globalThis as unknown as { process: { cpuUsage(): { user: number; system: number } } })
    .process.cpuUsage();
}
