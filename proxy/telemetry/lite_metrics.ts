/**
 * Counters and histograms for the request path, registered in a prom-client registry.
 *
 * prom-client's labelled children hash their label set on every increment; these keep one
 * plain object per label set, so an increment is an addition. The registry asks `get()` for
 * the values when it renders a scrape, exactly as for its own metrics.
 */
import type client from "prom-client";

type Labels = Record<string, string>;

interface CounterChild {
  readonly labels: Labels;
  value: number;
}

/** A counter child: add to it as often as needed, it costs one addition. */
export interface Counting {
  inc(value?: number): void;
}

/** A histogram child. */
export interface Observing {
  observe(value: number): void;
}

abstract class LiteMetric<Child> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  /** prom-client's registry reads it when several registries are merged. */
  readonly aggregator = "sum";
  protected readonly children = new Map<string, Child>();

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    registry: client.Registry,
  ) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    registry.registerMetric(this as unknown as client.Metric);
  }

  /** The child for these label values (in `labelNames` order), made on first use. */
  labels(...values: string[]): Child {
    const key = values.join("\u0000");
    let child = this.children.get(key);
    if (child === undefined) {
      const labels: Labels = {};
      this.labelNames.forEach((name, i) => labels[name] = values[i]);
      child = this.create(labels);
      this.children.set(key, child);
    }
    return child;
  }

  /** Forgets every label set (series disappear from the next scrape). */
  reset(): void {
    this.children.clear();
  }

  protected abstract create(labels: Labels): Child;
}

export class LiteCounter extends LiteMetric<CounterChild & Counting> {
  readonly type = "counter";

  protected create(labels: Labels): CounterChild & Counting {
    const child = {
      labels,
      value: 0,
      inc(value = 1) {
        child.value += value;
      },
    };
    return child;
  }

  get(): Promise<{ name: string; help: string; type: string; values: unknown[] }> {
    const values = [...this.children.values()].map((c) => ({ labels: c.labels, value: c.value }));
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values });
  }
}

interface HistogramChild extends Observing {
  readonly labels: Labels;
  readonly counts: number[];
  sum: number;
  count: number;
}

export class LiteHistogram extends LiteMetric<HistogramChild> {
  readonly type = "histogram";
  readonly #buckets: readonly number[];

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[],
    registry: client.Registry,
  ) {
    super(name, help, labelNames, registry);
    this.#buckets = buckets;
  }

  protected create(labels: Labels): HistogramChild {
    const buckets = this.#buckets;
    const child: HistogramChild = {
      labels,
      counts: new Array(buckets.length).fill(0),
      sum: 0,
      count: 0,
      observe(value: number) {
        child.sum += value;
        child.count++;
        for (let i = 0; i < buckets.length; i++) {
          if (value <= buckets[i]) {
            child.counts[i]++;
            return;
          }
        }
      },
    };
    return child;
  }

  get(): Promise<{ name: string; help: string; type: string; values: unknown[] }> {
    const values: unknown[] = [];
    for (const c of this.children.values()) {
      let cumulative = 0;
      this.#buckets.forEach((le, i) => {
        cumulative += c.counts[i];
        values.push({
          metricName: `${this.name}_bucket`,
          labels: { ...c.labels, le },
          value: cumulative,
        });
      });
      values.push({
        metricName: `${this.name}_bucket`,
        labels: { ...c.labels, le: "+Inf" },
        value: c.count,
      });
      values.push({ metricName: `${this.name}_sum`, labels: c.labels, value: c.sum });
      values.push({ metricName: `${this.name}_count`, labels: c.labels, value: c.count });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values });
  }
}
