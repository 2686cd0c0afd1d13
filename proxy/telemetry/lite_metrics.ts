/**
 * Counters and histograms for the request path, registered in a prom-client registry.
 *
 * prom-client's labelled children hash their label set on every increment; these keep one
 * plain object per label set, so an increment is an addition. The registry asks
 * `getForPromString()` for the samples when it renders a scrape, exactly as for its own
 * histograms, and `get()` for its JSON view.
 *
 * Why not prom-client's public API (`deno bench proxy/telemetry/lite_metrics_bench.ts`, 2 shared
 * cores, loaded): one request's metrics (3 levels of a counter, a histogram and 2 byte counters
 * on children resolved beforehand) cost 0.08-0.16 µs here and 3.7-13 µs with prom-client's
 * children, i.e. 10-36% of a core at 28k requests/s against under 0.5%. A scrape of 1000 label sets
 * in a counter and a histogram (15,000 lines) takes 22-60 ms (prom-client 18-50 ms). Figures
 * and the decision: docs/libraries.md.
 *
 * This leans on prom-client internals (the Metric shape the registry reads, `sharedLabels`);
 * lite_metrics_test.ts compares the exposition with prom-client's own metrics byte for byte, so
 * an upgrade that changes them fails there.
 */
import type client from "prom-client";

type Labels = Record<string, string>;

/**
 * One line of the exposition, as prom-client's registry reads it: `sharedLabels` are the
 * series' labels, which the registry formats once per object and caches; `labels` are the
 * line's own (a bucket's `le`), rendered before them.
 */
interface Sample {
  readonly metricName?: string;
  readonly labels: Record<string, string | number>;
  readonly sharedLabels?: Labels;
  readonly value: number;
}

/** What `get()` returns, the shape of prom-client's `MetricObjectWithValues`. */
interface MetricData {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly values: Sample[];
  readonly aggregator: string;
}

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

  /** What the registry renders for a scrape, as prom-client's own histograms give it. */
  getForPromString(): Promise<MetricData> {
    // prom-client shows a metric without labels at 0 before its first use.
    if (this.labelNames.length === 0) this.labels();
    const values = [...this.children.values()].flatMap((child) => this.samples(child));
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      values,
      aggregator: this.aggregator,
    });
  }

  /** The registry's JSON view (`getMetricsAsJSON`): the same samples, labels merged. */
  async get(): Promise<MetricData> {
    const data = await this.getForPromString();
    const values = data.values.map(({ labels, sharedLabels, ...sample }) => ({
      ...sample,
      labels: { ...labels, ...sharedLabels },
    }));
    return { ...data, values };
  }

  abstract readonly type: string;
  protected abstract samples(child: Child): Sample[];

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

  protected samples(child: CounterChild): Sample[] {
    return [{ labels: {}, sharedLabels: child.labels, value: child.value }];
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

  /** Cumulative buckets (`le` first, as prom-client puts it), +Inf, sum, count. */
  protected samples(child: HistogramChild): Sample[] {
    const bucket = `${this.name}_bucket`;
    const samples: Sample[] = [];
    let cumulative = 0;
    this.#buckets.forEach((le, i) => {
      cumulative += child.counts[i];
      samples.push({ metricName: bucket, labels: { le, ...child.labels }, value: cumulative });
    });
    samples.push({
      metricName: bucket,
      labels: { le: "+Inf", ...child.labels },
      value: child.count,
    });
    samples.push({ metricName: `${this.name}_sum`, labels: child.labels, value: child.sum });
    samples.push({ metricName: `${this.name}_count`, labels: child.labels, value: child.count });
    return samples;
  }
}
