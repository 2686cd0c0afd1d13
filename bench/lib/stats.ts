/**
 * Samples collected over the rounds, reduced to medians, and the ratios the report prints.
 *
 * @module
 */
import { PEERS, type TargetName } from "./targets.ts";

/** How one metric is shown and compared. */
export interface MetricSpec {
  key: string;
  label: string;
  better: "higher" | "lower";
  digits: number;
}

/** One measurement of one target in one round. */
export interface Sample {
  round: number;
  values: Record<string, number>;
  /** Failed operations (socket errors, non-2xx, wrong bytes). */
  errors: number;
  operations: number;
  /** The command line that produced it. */
  command: string;
  note?: string;
}

/** What a scenario produced for one target over all rounds. */
export interface Cell {
  samples: Sample[];
  /** Why the target has no numbers: a capability it lacks. */
  missing?: string;
  /** Runs that failed, with the reason. */
  failures: string[];
}

/** Median of `values`; NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Median of one metric over a cell's samples (NaN when it has none). */
export function cellMedian(cell: Cell | undefined, key: string): number {
  const values = (cell?.samples ?? []).map((s) => s.values[key]).filter(Number.isFinite);
  return median(values);
}

/** The better of two values for this metric. */
function better(metric: MetricSpec, a: number, b: number): number {
  if (!Number.isFinite(a)) return b;
  if (!Number.isFinite(b)) return a;
  return metric.better === "higher" ? Math.max(a, b) : Math.min(a, b);
}

/**
 * `target`'s median divided by the best median among the other proxies (nginx, HAProxy, Caddy,
 * and Gatehouse for the peers themselves); NaN when there is nothing to compare with.
 */
export function ratioToBestPeer(
  cells: ReadonlyMap<TargetName, Cell>,
  target: TargetName,
  metric: MetricSpec,
): number {
  const others = ([...PEERS, "gatehouse"] as TargetName[]).filter((t) => t !== target);
  const best = others.reduce(
    (acc, t) => better(metric, acc, cellMedian(cells.get(t), metric.key)),
    NaN,
  );
  return cellMedian(cells.get(target), metric.key) / best;
}

/** `target`'s median divided by the direct upstream's; NaN without a direct number. */
export function ratioToDirect(
  cells: ReadonlyMap<TargetName, Cell>,
  target: TargetName,
  metric: MetricSpec,
): number {
  return cellMedian(cells.get(target), metric.key) / cellMedian(cells.get("direct"), metric.key);
}
