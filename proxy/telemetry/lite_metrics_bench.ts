/**
 * What lite_metrics.ts saves over prom-client's public API, and what a scrape costs:
 * `deno bench proxy/telemetry/lite_metrics_bench.ts`. "request" is what Metrics.observe does
 * for one request with all three levels on: per level one counter increment, one histogram
 * observation and two byte counters, on children resolved beforehand (prom-client's children
 * hash their label values again on every call; lite children are plain objects).
 *
 * @module
 */
import client from "prom-client";
import { LiteCounter, LiteHistogram } from "./lite_metrics.ts";
import { DURATION_BUCKETS } from "./metrics.ts";

const LABELS = ["entrypoint", "router", "service", "code", "method", "protocol"];
const VALUES = ["websecure", "app", "app-service", "200", "GET", "http"];
const SCRAPE_SERIES = 1000;

interface Level {
  requests: { inc(value?: number): void };
  duration: { observe(value: number): void };
  requestBytes: { inc(value?: number): void };
  responseBytes: { inc(value?: number): void };
}

function liteLevels(registry: client.Registry): Level[] {
  return ["a", "b", "c"].map((level) => {
    const counter = (what: string) =>
      new LiteCounter(`${level}_${what}_total`, what, LABELS, registry).labels(...VALUES);
    return {
      requests: counter("requests"),
      duration: new LiteHistogram(`${level}_seconds`, "d", LABELS, DURATION_BUCKETS, registry)
        .labels(...VALUES),
      requestBytes: counter("request_bytes"),
      responseBytes: counter("response_bytes"),
    };
  });
}

function promLevels(registry: client.Registry): Level[] {
  return ["a", "b", "c"].map((level) => {
    const counter = (what: string) =>
      new client.Counter({
        name: `${level}_${what}_total`,
        help: what,
        labelNames: LABELS,
        registers: [registry],
      }).labels(...VALUES);
    return {
      requests: counter("requests"),
      duration: new client.Histogram({
        name: `${level}_seconds`,
        help: "d",
        labelNames: LABELS,
        buckets: DURATION_BUCKETS,
        registers: [registry],
      }).labels(...VALUES),
      requestBytes: counter("request_bytes"),
      responseBytes: counter("response_bytes"),
    };
  });
}

function request(levels: Level[]): void {
  for (const level of levels) {
    level.requests.inc();
    level.duration.observe(0.042);
    level.requestBytes.inc(512);
    level.responseBytes.inc(4096);
  }
}

const lite = liteLevels(new client.Registry());
const prom = promLevels(new client.Registry());

Deno.bench("request: lite_metrics", { group: "request", baseline: true }, () => request(lite));
Deno.bench("request: prom-client", { group: "request" }, () => request(prom));

/** A registry holding SCRAPE_SERIES label sets in one counter and one histogram. */
function scrapeRegistry(kind: "lite" | "prom"): client.Registry {
  const registry = new client.Registry();
  const labelNames = ["route", "code"];
  const counter = kind === "lite"
    ? new LiteCounter("s_requests_total", "r", labelNames, registry)
    : new client.Counter({
      name: "s_requests_total",
      help: "r",
      labelNames,
      registers: [registry],
    });
  const histogram = kind === "lite"
    ? new LiteHistogram("s_seconds", "d", labelNames, DURATION_BUCKETS, registry)
    : new client.Histogram({
      name: "s_seconds",
      help: "d",
      labelNames,
      buckets: DURATION_BUCKETS,
      registers: [registry],
    });
  for (let i = 0; i < SCRAPE_SERIES; i++) {
    const values = [`route-${i % 250}`, String(200 + Math.floor(i / 250))];
    counter.labels(...values).inc();
    histogram.labels(...values).observe(0.042);
  }
  return registry;
}

const liteScrape = scrapeRegistry("lite");
const promScrape = scrapeRegistry("prom");

Deno.bench(`scrape, ${SCRAPE_SERIES} label sets: lite_metrics`, {
  group: "scrape",
  baseline: true,
}, async () => {
  await liteScrape.metrics();
});
Deno.bench(`scrape, ${SCRAPE_SERIES} label sets: prom-client`, { group: "scrape" }, async () => {
  await promScrape.metrics();
});
