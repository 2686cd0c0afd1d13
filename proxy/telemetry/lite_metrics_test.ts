/**
 * The contract lite_metrics.ts relies on: it poses as prom-client's internal Metric type, and
 * the registry renders what its `get()` returns. Each test feeds the same observations to a lite
 * metric and to prom-client's own metric of the same name, labels and buckets, in two
 * registries, and wants the two expositions byte for byte equal. A prom-client upgrade that
 * changes how the registry reads metrics, or how it renders them, fails here.
 */
import assert from "node:assert/strict";
import client from "prom-client";
import { LiteCounter, LiteHistogram } from "./lite_metrics.ts";

/** Label values that need escaping in the exposition format, and some that do not. */
const AWKWARD = ['quote " inside', "back\\slash", "new\nline", "ünïcödé", "", "plain"];
const BUCKETS = [0.005, 0.1, 0.3, 1.2, 5];

interface Pair {
  readonly lite: client.Registry;
  readonly prom: client.Registry;
}

function registries(): Pair {
  return { lite: new client.Registry(), prom: new client.Registry() };
}

async function assertSameExposition(pair: Pair): Promise<void> {
  const [lite, prom] = await Promise.all([pair.lite.metrics(), pair.prom.metrics()]);
  assert.equal(lite, prom);
  // The JSON view too, but for exemplars (OpenMetrics only; Gatehouse serves none).
  const json = async (registry: client.Registry) =>
    JSON.parse(
      JSON.stringify(await registry.getMetricsAsJSON(), (key, value) =>
        key === "exemplar" ? undefined : value),
    );
  assert.deepEqual(await json(pair.lite), await json(pair.prom));
}

Deno.test("a lite counter renders as prom-client's, labels escaped, in first-use order", async () => {
  const pair = registries();
  const help = 'Requests, with "quotes", a back\\slash and a\nnew line in the help';
  const lite = new LiteCounter("t_requests_total", help, ["route", "code"], pair.lite);
  const prom = new client.Counter({
    name: "t_requests_total",
    help,
    labelNames: ["route", "code"],
    registers: [pair.prom],
  });
  AWKWARD.forEach((route, i) => {
    for (const code of ["200", "503"]) {
      lite.labels(route, code).inc(i + 1);
      prom.labels(route, code).inc(i + 1);
    }
  });
  lite.labels("plain", "200").inc(0.25);
  prom.labels("plain", "200").inc(0.25);
  lite.labels("big", "200").inc(2 ** 53);
  prom.labels("big", "200").inc(2 ** 53);
  await assertSameExposition(pair);
});

Deno.test("a lite counter without labels renders as prom-client's, before and after use", async () => {
  const pair = registries();
  const lite = new LiteCounter("t_reloads_total", "Reloads", [], pair.lite);
  const prom = new client.Counter({
    name: "t_reloads_total",
    help: "Reloads",
    registers: [pair.prom],
  });
  await assertSameExposition(pair);
  lite.labels().inc();
  prom.inc();
  await assertSameExposition(pair);
});

Deno.test("a lite histogram renders as prom-client's: cumulative buckets, +Inf, sum, count", async () => {
  const pair = registries();
  const labelNames = ["entrypoint", "method"];
  const lite = new LiteHistogram("t_duration_seconds", "Duration", labelNames, BUCKETS, pair.lite);
  const prom = new client.Histogram({
    name: "t_duration_seconds",
    help: "Duration",
    labelNames,
    buckets: BUCKETS,
    registers: [pair.prom],
  });
  // On a bucket bound, between bounds, past the last bound, zero, a long fraction.
  const values = [0, 0.005, 0.0051, 0.1, 0.2999, 0.3, 1.2, 4.99, 5, 5.01, 60, 1 / 3];
  AWKWARD.forEach((entrypoint, i) => {
    for (const value of values.slice(i)) {
      lite.labels(entrypoint, "GET").observe(value);
      prom.labels(entrypoint, "GET").observe(value);
    }
  });
  await assertSameExposition(pair);
});

Deno.test("a lite histogram without labels renders as prom-client's, before and after use", async () => {
  const pair = registries();
  const lite = new LiteHistogram("t_wait_seconds", "Wait", [], BUCKETS, pair.lite);
  const prom = new client.Histogram({
    name: "t_wait_seconds",
    help: "Wait",
    buckets: BUCKETS,
    registers: [pair.prom],
  });
  await assertSameExposition(pair);
  lite.labels().observe(0.2);
  prom.observe(0.2);
  await assertSameExposition(pair);
});

Deno.test("lite and prom-client metrics share a registry, rendered in registration order", async () => {
  const pair = registries();
  for (const registry of [pair.lite, pair.prom]) {
    new client.Gauge({ name: "t_open", help: "Open", registers: [registry] }).set(3);
  }
  new LiteCounter("t_total", "Total", ["kind"], pair.lite).labels("a").inc();
  new client.Counter({
    name: "t_total",
    help: "Total",
    labelNames: ["kind"],
    registers: [pair.prom],
  })
    .labels("a").inc();
  await assertSameExposition(pair);
  assert.equal(pair.lite.contentType, pair.prom.contentType);
});

Deno.test("reset forgets every series of a labelled lite metric, as prom-client's does", async () => {
  const pair = registries();
  const lite = new LiteCounter("t_resets_total", "Resets", ["kind"], pair.lite);
  const prom = new client.Counter({
    name: "t_resets_total",
    help: "Resets",
    labelNames: ["kind"],
    registers: [pair.prom],
  });
  lite.labels("a").inc();
  prom.labels("a").inc();
  lite.reset();
  prom.reset();
  await assertSameExposition(pair);
});
