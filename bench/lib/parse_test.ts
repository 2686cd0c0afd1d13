import assert from "node:assert/strict";
import { benchJson, h2loadLogPercentile, parseH2load, type WrkResult } from "./parse.ts";
import { type Cell, median, ratioToBestPeer, ratioToDirect } from "./stats.ts";
import type { TargetName } from "./targets.ts";

const H2LOAD_OUTPUT = `starting benchmark...
spawning thread #0: 50 total client(s). Timing-based test with 0s of warm-up time and 5s of main duration for measurements.
Application protocol: h2
Main benchmark duration is started for client #0.

finished in 5.00s, 20345.60 req/s, 1.52MB/s
requests: 101728 total, 102228 started, 101728 done, 101700 succeeded, 28 failed, 20 errored, 8 timeout
status codes: 101700 2xx, 0 3xx, 8 4xx, 0 5xx
traffic: 7.60MB (7969280) total, 1.25MB (1310720) headers (space savings 90.10%), 1.65MB (1730000) data
                     min         max         mean         sd        +/- sd
time for request:      401us     98.62ms     24.38ms     10.13ms    69.21%
`;

Deno.test("parseH2load reads duration, counts and traffic", () => {
  const r = parseH2load(H2LOAD_OUTPUT);
  assert.equal(r.seconds, 5);
  assert.equal(r.reqPerSec, 20345.6);
  assert.deepEqual(
    [r.done, r.succeeded, r.failed, r.errored, r.timeout, r.status2xx, r.bytes],
    [101728, 101700, 28, 20, 8, 101700, 7969280],
  );
});

Deno.test("parseH2load reads a run shorter than a second", () => {
  const r = parseH2load(H2LOAD_OUTPUT.replace("finished in 5.00s", "finished in 4.83ms"));
  assert.equal(r.seconds, 0.00483);
});

Deno.test("parseH2load names what it could not find", () => {
  assert.throws(() => parseH2load("connect: Connection refused\n"), /h2load's duration/);
});

Deno.test("h2loadLogPercentile reads the third column in microseconds", () => {
  const log = Array.from({ length: 100 }, (_, i) => `1700000000${i}\t200\t${(i + 1) * 1000}`)
    .join("\n");
  assert.equal(h2loadLogPercentile(log + "\n", 99), 99);
  assert.equal(h2loadLogPercentile(log, 50), 50);
  assert.equal(h2loadLogPercentile("", 99), 0);
});

Deno.test("benchJson takes the last marked line, after wrk's own report", () => {
  const stdout = `Running 5s test @ http://127.0.0.1:8080/
  1 threads and 50 connections
Requests/sec:  80000.00

BENCH_JSON {"requests":400000,"bytes":52000000,"duration_us":5000000,"p50_us":600,"p99_us":1200,"errors":{"connect":0,"read":1,"write":0,"status":2,"timeout":0}}
`;
  const r = benchJson<WrkResult>(stdout, "wrk");
  assert.equal(r.requests, 400000);
  assert.equal(r.errors.status, 2);
  assert.throws(() => benchJson("Requests/sec: 1\n", "wrk"), /Cannot read wrk's result/);
});

function cells(values: Partial<Record<TargetName, number>>): Map<TargetName, Cell> {
  return new Map(
    Object.entries(values).map(([name, v]) => [
      name as TargetName,
      {
        samples: [{ round: 1, values: { x: v }, errors: 0, operations: 1, command: "" }],
        failures: [],
      },
    ]),
  );
}

Deno.test("median of odd and even counts", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

Deno.test("ratios compare with the best other proxy and with direct", () => {
  const higher = { key: "x", label: "x", better: "higher" as const, digits: 0 };
  const lower = { ...higher, better: "lower" as const };
  const c = cells({ direct: 100, gatehouse: 40, nginx: 50, haproxy: 80, caddy: 20 });
  assert.equal(ratioToBestPeer(c, "gatehouse", higher), 0.5);
  assert.equal(ratioToBestPeer(c, "haproxy", higher), 80 / 50);
  assert.equal(ratioToBestPeer(c, "gatehouse", lower), 2);
  assert.equal(ratioToDirect(c, "nginx", higher), 0.5);
  assert.ok(Number.isNaN(ratioToBestPeer(cells({ gatehouse: 1 }), "gatehouse", higher)));
});
