/**
 * Runs the scenarios in interleaved rounds: each round runs every scenario against every target
 * (starting one target later each round, so no target is always first or last), and collects
 * the samples per scenario and target.
 *
 * @module
 */
import type { Scenario, ScenarioContext } from "../scenarios/mod.ts";
import type { Cell, Sample } from "./stats.ts";
import type { Target, TargetName } from "./targets.ts";

/** Samples by scenario id, then by target. */
export type Results = Map<string, Map<TargetName, Cell>>;

/** Called at the start of each round and after each measurement (for progress lines). */
export interface Progress {
  round(round: number): Promise<void>;
  sample(scenario: Scenario, target: Target, round: number, sample: Sample | Error): void;
}

/** The targets of `scenario` that were started, rotated by `round`. */
function order(scenario: Scenario, targets: ReadonlyMap<TargetName, Target>, round: number) {
  const list = scenario.targets.filter((name) => targets.has(name));
  const shift = list.length === 0 ? 0 : round % list.length;
  return [...list.slice(shift), ...list.slice(0, shift)].map((name) => targets.get(name)!);
}

/** Why `target` cannot run `scenario`, or undefined when it can. */
function lacking(scenario: Scenario, target: Target): string | undefined {
  for (const need of [scenario.needs, scenario.alsoNeeds]) {
    if (need === undefined) continue;
    const reason = target.lacks[need];
    if (reason) return reason;
    if (need !== "br" && target.endpoints[need] === undefined) return `no ${need} listener`;
  }
  return undefined;
}

/** Runs `rounds` rounds of `scenarios` and returns every sample; stops when `signal` aborts. */
export async function runRounds(
  scenarios: readonly Scenario[],
  targets: ReadonlyMap<TargetName, Target>,
  ctx: ScenarioContext,
  rounds: number,
  progress: Progress,
  signal: AbortSignal,
): Promise<Results> {
  const results: Results = new Map();
  for (const scenario of scenarios) {
    const cells = new Map<TargetName, Cell>();
    for (const target of order(scenario, targets, 0)) {
      cells.set(target.name, { samples: [], failures: [], missing: lacking(scenario, target) });
    }
    results.set(scenario.id, cells);
  }
  for (let round = 1; round <= rounds; round++) {
    await progress.round(round);
    for (const scenario of scenarios) {
      for (const target of order(scenario, targets, round - 1)) {
        const cell = results.get(scenario.id)!.get(target.name)!;
        if (cell.missing) continue;
        signal.throwIfAborted();
        try {
          if (target.process?.exited()) {
            throw new Error(`${target.name} is no longer running (see bench/out/logs/)`);
          }
          const sample = { round, ...(await scenario.run(ctx, target)) };
          cell.samples.push(sample);
          progress.sample(scenario, target, round, sample);
        } catch (error) {
          if (signal.aborted) throw signal.reason;
          cell.failures.push(`round ${round}: ${(error as Error).message}`);
          progress.sample(scenario, target, round, error as Error);
        }
      }
    }
  }
  return results;
}
