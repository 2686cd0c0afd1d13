/**
 * The frame of the proxy fuzz tests: a proxy with one entrypoint per lane (`l0`, `l1`, ...), each
 * routed to its own upstream so that every upstream request belongs to one lane's current case,
 * and the lanes run at once, each from its own seeded generator.
 *
 * GATEHOUSE_FUZZ_SEED and GATEHOUSE_FUZZ_CASES choose other and longer campaigns.
 *
 * @module
 */
import assert from "node:assert/strict";
import { startProxy, type TestProxy } from "./proxy.ts";
import { type Rng, seeded } from "./mutate.ts";

export const FUZZ_LANES = 16;
export const FUZZ_SEED = Number(Deno.env.get("GATEHOUSE_FUZZ_SEED") ?? 20261207);

/** The number of cases to run: GATEHOUSE_FUZZ_CASES, else `fallback`. */
export function fuzzCases(fallback: number): number {
  return Number(Deno.env.get("GATEHOUSE_FUZZ_CASES") ?? fallback);
}

/**
 * A proxy with entrypoint `l<i>` routed to `upstreams[i]` (a service without retries); `entry`
 * adds flow-map entries to every entrypoint ("h2c: off"), `top` top-level YAML.
 */
export function laneProxy(upstreams: readonly string[], entry: string, top: string) {
  const more = entry === "" ? "" : `, ${entry}`;
  const entrypoints = upstreams.map((_, i) => `l${i}: { address: "127.0.0.1:0"${more} }`);
  const routes = upstreams.map((_, i) => `{ name: r${i}, entrypoints: [l${i}], service: s${i} }`);
  const services = upstreams.map((url, i) => `s${i}: { servers: ["${url}"], retries: 0 }`);
  return startProxy(`
entrypoints: { ${entrypoints.join(", ")} }
routes: [${routes.join(", ")}]
services: { ${services.join(", ")} }
${top}
`);
}

/**
 * Runs `run` for every lane of `gw` at once (its entrypoint's port, its generator, its share of
 * `cases`), and fails with the first five failures they report.
 */
export async function runLanes(
  gw: TestProxy,
  cases: number,
  run: (lane: number, port: number, rng: Rng, cases: number) => Promise<string[]>,
): Promise<void> {
  const perLane = Math.ceil(cases / FUZZ_LANES);
  const failures = (await Promise.all(
    Array.from(
      { length: FUZZ_LANES },
      (_, i) => run(i, gw.port(`l${i}`), seeded(FUZZ_SEED * FUZZ_LANES + i), perLane),
    ),
  )).flat();
  assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failing cases`);
}
