/**
 * Prometheus metrics of the data path (prom-client), named and labelled as Traefik-style
 * dashboards expect: `gatehouse_` prefix, entrypoint / router / service levels, duration buckets
 * that include 0.1, 0.3, 1.2 and 5 seconds. Labels are bounded: never a path, query, client IP or
 * request id. Every worker isolate keeps one; the main isolate's control_metrics.ts adds what it
 * owns (reloads, ACME, server health, certificates, the process) and sums them all at scrape
 * time (`exposition`).
 *
 * The request path costs one Map lookup (a bundle of pre-resolved children per route, status,
 * method and protocol) and a few additions (lite_metrics.ts). The open-connection gauges are
 * computed when Prometheus scrapes, from the live state.
 */
import client from "prom-client";
import type { Config } from "../config/types.ts";
import type { AccessRecord, TcpRecord, UdpRecord } from "./records.ts";
import { type Counting, LiteCounter, LiteHistogram, type Observing } from "./lite_metrics.ts";

/** Seconds. Apdex-style dashboards read le="0.3" and le="1.2"; keep those. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.3, 0.5, 1.2, 2.5, 5, 10];

const METHODS = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "PATCH",
]);

/**
 * The HTTP/2 engine's counters (proto/h2/guard.ts H2Stats) and their `kind` label in
 * `gatehouse_http2_defences_total`.
 */
export const HTTP2_KINDS: Readonly<Record<string, string>> = {
  rapidReset: "rapid_reset",
  continuationFlood: "continuation_flood",
  headerListTooLarge: "header_list_too_large",
  settingsFlood: "settings_flood",
  pingFlood: "ping_flood",
  emptyDataFlood: "empty_data_flood",
  windowUpdateFlood: "window_update_flood",
  priorityFlood: "priority_flood",
  writeBacklog: "write_backlog",
  refusedStreams: "refused_stream",
  malformedMessages: "malformed_message",
  connectionErrors: "connection_error",
  streamErrors: "stream_error",
  flowControlStalls: "flow_control_stall",
};

/** Live state read at scrape time. */
export interface MetricsSource {
  readonly config: () => Config;
  /** Open client connections: entrypoint, protocol ("http" | "websocket" | "tcp"). */
  readonly clientConnections: () => Iterable<{ entrypoint: string; protocol: string }>;
  /** Open upstream connections per service. */
  readonly upstreamConnections: () => Iterable<{ service: string }>;
  /** HTTP/2 counters per entrypoint (keys of HTTP2_KINDS). */
  readonly http2Counters?: () => Iterable<
    { entrypoint: string; counters: Readonly<Record<string, number>> }
  >;
  /**
   * Responses sent uncompressed for want of encoder memory, responses answered 503 for want of
   * decoder memory, the codec memory taken now, and the isolate's budget for it
   * (`compression.max_memory`).
   */
  readonly compression?: () => {
    skipped: number;
    decodeRefused: number;
    memoryBytes: number;
    limitBytes: number;
  };
}

/** The samples of a registry, as `getMetricsAsJSON` gives them (structured-cloneable). */
export type MetricSamples = client.MetricObjectWithValues<client.MetricValue<string>>[];

/** The children of every level for one label combination, resolved once. */
interface Bundle {
  readonly requests: Counting[];
  readonly durations: Observing[];
  readonly requestBytes: Counting[];
  readonly responseBytes: Counting[];
}

export class Metrics {
  readonly registry = new client.Registry();
  readonly #source: MetricsSource;
  readonly #bundles = new Map<string, Bundle>();
  readonly #hostNames = new Set<string>();
  #settings: Config["metrics"];

  readonly #epRequests;
  readonly #epDuration;
  readonly #epReqBytes;
  readonly #epResBytes;
  readonly #rtRequests;
  readonly #rtDuration;
  readonly #rtReqBytes;
  readonly #rtResBytes;
  readonly #svRequests;
  readonly #svDuration;
  readonly #svReqBytes;
  readonly #svResBytes;
  readonly #svRetries;
  readonly #hostRequests;
  readonly #wsSessions;
  readonly #wsBytes;
  readonly #tcpConnections;
  readonly #tcpBytes;
  readonly #udpSessions;
  readonly #udpDatagrams;
  readonly #udpBytes;
  readonly #rejected;
  readonly #middlewareRejections;
  readonly #refused;
  readonly #acceptFailures;
  readonly #failures;
  readonly #droppedHeaders;
  readonly #grpcResponses;

  constructor(source: MetricsSource) {
    this.#source = source;
    this.#settings = source.config().metrics;
    const r = [this.registry];
    const counter = (name: string, help: string, labelNames: string[]) =>
      new LiteCounter(name, help, labelNames, this.registry);
    const histogram = (name: string, help: string, labelNames: string[]) =>
      new LiteHistogram(name, help, labelNames, DURATION_BUCKETS, this.registry);
    const level = (prefix: string, what: string, keys: string[]) =>
      [
        counter(`${prefix}_requests_total`, `HTTP requests ${what}`, [
          ...keys,
          "code",
          "method",
          "protocol",
        ]),
        histogram(`${prefix}_request_duration_seconds`, `Request duration ${what}`, [
          ...keys,
          "code",
          "method",
          "protocol",
        ]),
        counter(`${prefix}_requests_bytes_total`, `Request body bytes ${what}`, [
          ...keys,
          "code",
          "method",
          "protocol",
        ]),
        counter(`${prefix}_responses_bytes_total`, `Response body bytes ${what}`, [
          ...keys,
          "code",
          "method",
          "protocol",
        ]),
      ] as const;
    [this.#epRequests, this.#epDuration, this.#epReqBytes, this.#epResBytes] = level(
      "gatehouse_entrypoint",
      "by entrypoint",
      ["entrypoint"],
    );
    [this.#rtRequests, this.#rtDuration, this.#rtReqBytes, this.#rtResBytes] = level(
      "gatehouse_router",
      "by route",
      ["router", "service"],
    );
    [this.#svRequests, this.#svDuration, this.#svReqBytes, this.#svResBytes] = level(
      "gatehouse_service",
      "by service",
      ["service"],
    );
    this.#svRetries = counter(
      "gatehouse_service_retries_total",
      "Requests sent again to another server of the service",
      ["service"],
    );
    this.#hostRequests = counter(
      "gatehouse_host_requests_total",
      'HTTP requests by host name (metrics.per_host; names no route lists are "other")',
      ["host", "code"],
    );
    this.#wsSessions = counter(
      "gatehouse_websocket_sessions_total",
      "Upgrade tunnels (WebSocket and others) that ended",
      ["entrypoint", "router", "service"],
    );
    this.#wsBytes = counter("gatehouse_websocket_bytes_total", "Bytes through Upgrade tunnels", [
      "entrypoint",
      "router",
      "direction",
    ]);
    this.#tcpConnections = counter(
      "gatehouse_tcp_connections_total",
      "TCP connections that ended",
      ["entrypoint", "router", "service", "outcome"],
    );
    this.#tcpBytes = counter("gatehouse_tcp_bytes_total", "Bytes through TCP routes", [
      "entrypoint",
      "router",
      "direction",
    ]);
    this.#udpSessions = counter(
      "gatehouse_udp_sessions_total",
      "UDP sessions that ended",
      ["entrypoint", "service", "outcome"],
    );
    this.#udpDatagrams = counter("gatehouse_udp_datagrams_total", "Datagrams through UDP routes", [
      "entrypoint",
      "service",
      "direction",
    ]);
    this.#udpBytes = counter("gatehouse_udp_bytes_total", "Bytes through UDP routes", [
      "entrypoint",
      "service",
      "direction",
    ]);
    this.#rejected = counter(
      "gatehouse_requests_rejected_total",
      "Requests Gatehouse refused for what they are (malformed, ambiguous, not allowed), by reason",
      ["entrypoint", "reason"],
    );
    this.#middlewareRejections = counter(
      "gatehouse_middleware_rejections_total",
      "Requests a middleware refused, by middleware name and reason (ip_denied, bad_credentials, rate_limited...)",
      ["middleware", "reason"],
    );
    this.#droppedHeaders = counter(
      "gatehouse_request_headers_dropped_total",
      'Request header fields removed for an "_" in their name (forwarding.header_underscores)',
      ["entrypoint"],
    );
    this.#grpcResponses = counter(
      "gatehouse_grpc_responses_total",
      'Finished gRPC calls by grpc-status ("0" to "16"; "none" when a call ended without one, ' +
        '"other" for a value outside the defined codes)',
      ["entrypoint", "service", "grpc_status"],
    );
    this.#refused = counter(
      "gatehouse_connections_refused_total",
      "Client connections closed at accept time, by reason (draining, max_connections, entrypoint_max_connections, max_connections_per_client)",
      ["entrypoint", "reason"],
    );
    this.#acceptFailures = counter(
      "gatehouse_accept_failures_total",
      "Accepts that failed beyond one client, by reason (open_files: the open-file limit, other); " +
        "the connection waits in the kernel's queue",
      ["entrypoint", "reason"],
    );
    this.#failures = counter(
      "gatehouse_request_failures_total",
      "Requests that failed, by whose failure it was (client, upstream, unavailable, drain, gatehouse)",
      ["entrypoint", "source"],
    );
    this.#scrapeGauges(r);
    new client.Gauge({
      name: "process_heap_bytes",
      help: "V8 heap used in bytes",
      registers: r,
      collect() {
        this.set(Deno.memoryUsage().heapUsed);
      },
    });
  }

  /** Applies a (re)loaded config: zero series for what it names, stale bundles dropped. */
  configure(config: Config): void {
    this.#settings = config.metrics;
    this.#bundles.clear();
    this.#hostNames.clear();
    for (const route of config.routes) {
      for (const host of route.match.hosts) this.#hostNames.add(host);
    }
  }

  /** A client connection closed at accept time. */
  refused(entrypoint: string, reason: string): void {
    this.#refused.labels(entrypoint, reason).inc();
  }

  /** An accept that failed beyond one client (net/accept.ts). */
  acceptFailed(entrypoint: string, reason: string): void {
    this.#acceptFailures.labels(entrypoint, reason).inc();
  }

  /** One finished HTTP request or tunnel (refused ones included). */
  observe(r: AccessRecord): void {
    if (r.reason !== null) this.#rejected.labels(r.entrypoint, r.reason).inc();
    if (r.middlewareReason !== null) {
      this.#middlewareRejections.labels(r.middleware ?? "", r.middlewareReason).inc();
    }
    if (r.droppedHeaders > 0) this.#droppedHeaders.labels(r.entrypoint).inc(r.droppedHeaders);
    if (r.source !== null) this.#failures.labels(r.entrypoint, r.source).inc();
    if (r.kind === "grpc") {
      this.#grpcResponses.labels(r.entrypoint, r.service ?? "", grpcStatusLabel(r.grpcStatus))
        .inc();
    }
    if (!this.#settings.enabled) return;
    const method = METHODS.has(r.method) ? r.method : "EXTENSION_METHOD";
    const key = `${r.entrypoint}\u0000${r.route}\u0000${r.status}\u0000${method}\u0000${r.kind}`;
    let bundle = this.#bundles.get(key);
    if (bundle === undefined) {
      bundle = this.#bundle(r, method);
      this.#bundles.set(key, bundle);
    }
    const seconds = r.durationMs / 1000;
    for (let i = 0; i < bundle.requests.length; i++) {
      bundle.requests[i].inc();
      bundle.durations[i].observe(seconds);
      if (r.bytesIn > 0) bundle.requestBytes[i].inc(r.bytesIn);
      if (r.bytesOut > 0) bundle.responseBytes[i].inc(r.bytesOut);
    }
    const code = String(r.status);
    if (r.attempts > 1 && r.service !== null) this.#svRetries.labels(r.service).inc(r.attempts - 1);
    if (this.#settings.perHost) {
      const host = r.host.replace(/:\d+$/, "");
      this.#hostRequests.labels(this.#hostNames.has(host) ? host : "other", code).inc();
    }
    if (r.kind === "websocket") {
      this.#wsSessions.labels(r.entrypoint, r.route ?? "", r.service ?? "").inc();
      this.#wsBytes.labels(r.entrypoint, r.route ?? "", "up").inc(r.bytesIn);
      this.#wsBytes.labels(r.entrypoint, r.route ?? "", "down").inc(r.bytesOut);
    }
  }

  /** One finished TCP connection. */
  observeTcp(r: TcpRecord): void {
    if (!this.#settings.enabled) return;
    this.#tcpConnections.labels(r.entrypoint, r.route ?? "", r.service ?? "", r.outcome).inc();
    this.#tcpBytes.labels(r.entrypoint, r.route ?? "", "up").inc(r.bytesUp);
    this.#tcpBytes.labels(r.entrypoint, r.route ?? "", "down").inc(r.bytesDown);
  }

  /** One finished UDP session. */
  observeUdp(r: UdpRecord): void {
    if (!this.#settings.enabled) return;
    const service = r.service ?? "";
    this.#udpSessions.labels(r.entrypoint, service, r.outcome).inc();
    this.#udpDatagrams.labels(r.entrypoint, service, "up").inc(r.datagramsUp);
    this.#udpDatagrams.labels(r.entrypoint, service, "down").inc(r.datagramsDown);
    this.#udpBytes.labels(r.entrypoint, service, "up").inc(r.bytesUp);
    this.#udpBytes.labels(r.entrypoint, service, "down").inc(r.bytesDown);
  }

  /** Every sample, for the main isolate to sum with the other isolates' at scrape time. */
  samples(): Promise<MetricSamples> {
    return this.registry.getMetricsAsJSON();
  }

  /** Pre-resolves the request counters of all levels for one label combination. */
  #bundle(r: AccessRecord, method: string): Bundle {
    const code = String(r.status);
    const bundle: Bundle = { requests: [], durations: [], requestBytes: [], responseBytes: [] };
    const add = (
      metrics: readonly [
        LiteCounter,
        LiteHistogram,
        LiteCounter,
        LiteCounter,
      ],
      labels: string[],
    ) => {
      bundle.requests.push(metrics[0].labels(...labels));
      bundle.durations.push(metrics[1].labels(...labels));
      bundle.requestBytes.push(metrics[2].labels(...labels));
      bundle.responseBytes.push(metrics[3].labels(...labels));
    };
    add(
      [this.#epRequests, this.#epDuration, this.#epReqBytes, this.#epResBytes],
      [r.entrypoint, code, method, r.kind],
    );
    if (r.route !== null && this.#settings.routers) {
      add(
        [this.#rtRequests, this.#rtDuration, this.#rtReqBytes, this.#rtResBytes],
        [r.route, r.service ?? "", code, method, r.kind],
      );
    }
    if (r.service !== null && this.#settings.services) {
      add(
        [this.#svRequests, this.#svDuration, this.#svReqBytes, this.#svResBytes],
        [r.service, code, method, r.kind],
      );
    }
    return bundle;
  }

  #scrapeGauges(r: client.Registry[]): void {
    const source = this.#source;
    new client.Gauge({
      name: "gatehouse_entrypoint_open_connections",
      help: "Open client connections per entrypoint",
      labelNames: ["entrypoint"],
      registers: r,
      collect() {
        this.reset();
        const counts = new Map<string, number>();
        for (const name of Object.keys(source.config().entrypoints)) counts.set(name, 0);
        for (const c of source.clientConnections()) {
          counts.set(c.entrypoint, (counts.get(c.entrypoint) ?? 0) + 1);
        }
        for (const [entrypoint, n] of counts) this.labels(entrypoint).set(n);
      },
    });
    new client.Gauge({
      name: "gatehouse_open_connections",
      help: "Open client connections per entrypoint and protocol (http, websocket, tcp, udp)",
      labelNames: ["entrypoint", "protocol"],
      registers: r,
      collect() {
        this.reset();
        const counts = new Map<string, number>();
        for (const [name, ep] of Object.entries(source.config().entrypoints)) {
          const protocols = ep.protocol === "http" ? ["http", "websocket"] : [ep.protocol];
          for (const p of protocols) counts.set(`${name}\u0000${p}`, 0);
        }
        for (const c of source.clientConnections()) {
          const k = `${c.entrypoint}\u0000${c.protocol}`;
          counts.set(k, (counts.get(k) ?? 0) + 1);
        }
        for (const [k, n] of counts) this.labels(...(k.split("\u0000") as [string, string])).set(n);
      },
    });
    new client.Gauge({
      name: "gatehouse_service_open_connections",
      help: "Open connections to upstream servers per service",
      labelNames: ["service"],
      registers: r,
      collect() {
        this.reset();
        const counts = new Map<string, number>();
        for (const name of Object.keys(source.config().services)) counts.set(name, 0);
        for (const c of source.upstreamConnections()) {
          counts.set(c.service, (counts.get(c.service) ?? 0) + 1);
        }
        for (const [service, n] of counts) this.labels(service).set(n);
      },
    });
    new client.Counter({
      name: "gatehouse_http2_defences_total",
      help: "HTTP/2 clients' attacks answered (floods, rapid reset, oversized header lists), " +
        "malformed requests reset, protocol errors and flow-control stalls, by kind",
      labelNames: ["entrypoint", "kind"],
      registers: r,
      collect() {
        this.reset();
        for (const [name, ep] of Object.entries(source.config().entrypoints)) {
          if (ep.protocol !== "http") continue;
          for (const kind of Object.values(HTTP2_KINDS)) this.labels(name, kind).inc(0);
        }
        for (const { entrypoint, counters } of source.http2Counters?.() ?? []) {
          for (const [key, kind] of Object.entries(HTTP2_KINDS)) {
            const n = counters[key] ?? 0;
            if (n > 0) this.labels(entrypoint, kind).inc(n);
          }
        }
      },
    });
    new client.Counter({
      name: "gatehouse_compression_skipped_total",
      help: "Responses that would have been compressed and went out as they were, because the " +
        "encoder memory (compression.max_memory) was in use by responses in flight",
      registers: r,
      collect() {
        this.reset();
        this.inc(source.compression?.().skipped ?? 0);
      },
    });
    new client.Counter({
      name: "gatehouse_compression_decode_refused_total",
      help: "Responses answered 503 because the upstream sent them in a coding the client does " +
        "not accept and the memory to decode them (compression.max_memory) was in use",
      registers: r,
      collect() {
        this.reset();
        this.inc(source.compression?.().decodeRefused ?? 0);
      },
    });
    new client.Gauge({
      name: "gatehouse_compression_memory_bytes",
      help: "Memory the encoders and decoders of responses in flight hold, as charged to " +
        "compression.max_memory (which bounds each worker's)",
      registers: r,
      collect() {
        this.set(source.compression?.().memoryBytes ?? 0);
      },
    });
    new client.Gauge({
      name: "gatehouse_compression_memory_limit_bytes",
      help: "compression.max_memory of every isolate carrying traffic, summed",
      registers: r,
      collect() {
        this.set(source.compression?.().limitBytes ?? 0);
      },
    });
  }
}

/** grpc-status as a bounded label value. */
function grpcStatusLabel(status: string | null): string {
  if (status === null) return "none";
  return /^(?:[0-9]|1[0-6])$/.test(status) ? status : "other";
}
