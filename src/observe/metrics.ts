/**
 * A small metrics registry rendered in the Prometheus text exposition format 0.0.4: counters,
 * gauges and histograms with labels. Written by hand (about 200 lines) rather than taking
 * prom-client: that package reaches for Node's cluster and perf_hooks modules and pulls in
 * a dependency tree we would have to vet, for the three types we need.
 *
 * Label values come from data (symbols, source names): they are escaped as the format asks,
 * and each metric keeps at most `maxSeries` label sets; further ones are dropped and counted
 * in `cryptopipe_metrics_series_dropped_total`, so a flood of new symbols cannot grow memory.
 */

export type Labels = Readonly<Record<string, string | number>>;

export interface MetricOptions {
  readonly help: string;
  readonly labels?: readonly string[];
}

/** Default histogram buckets for latencies, in seconds. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** `\`, `"` and line feeds escaped, as the text format wants inside label values. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** HELP text escapes only `\` and line feeds. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** Numbers as the format spells them: NaN, +Inf, -Inf, else the shortest JS form. */
export function formatSampleValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

abstract class Metric<Series> {
  readonly series = new Map<string, { labels: Labels; value: Series }>();
  abstract readonly type: "counter" | "gauge" | "histogram";

  constructor(
    readonly registry: MetricsRegistry,
    readonly name: string,
    readonly options: MetricOptions,
  ) {
    if (!NAME.test(name)) throw new TypeError(`Cannot register metric "${name}": invalid name`);
    for (const label of options.labels ?? []) {
      if (!LABEL_NAME.test(label) || label.startsWith("__")) {
        throw new TypeError(`Cannot register metric "${name}": invalid label name "${label}"`);
      }
    }
  }

  protected abstract initial(): Series;

  /** The map key of a label set (label values in declaration order). */
  protected keyOf(labels: Labels): string {
    return (this.options.labels ?? []).map((n) => String(labels[n] ?? "")).join("\u0000");
  }

  /** The series for these labels, or undefined when the cardinality cap refuses a new one. */
  protected at(labels: Labels): { labels: Labels; value: Series } | undefined {
    const names = this.options.labels ?? [];
    const key = this.keyOf(labels);
    let entry = this.series.get(key);
    if (!entry) {
      if (this.series.size >= this.registry.maxSeries) {
        this.registry.droppedSeries++;
        return undefined;
      }
      const picked: Record<string, string> = {};
      for (const n of names) picked[n] = String(labels[n] ?? "");
      entry = { labels: picked, value: this.initial() };
      this.series.set(key, entry);
    }
    return entry;
  }

  /** Forget a label set (e.g. a partition this member no longer owns). */
  remove(labels: Labels): void {
    this.series.delete(this.keyOf(labels));
  }

  abstract samples(): string[];
}

function labelText(labels: Labels, extra?: [string, string]): string {
  // An empty value is the same as no label in Prometheus: leave it out.
  const parts = Object.entries(labels).filter(([, v]) => v !== "").map(([k, v]) =>
    `${k}="${escapeLabelValue(String(v))}"`
  );
  if (extra) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

export class Counter extends Metric<{ n: number }> {
  readonly type = "counter";
  protected initial() {
    return { n: 0 };
  }
  inc(labels: Labels = {}, by = 1): void {
    if (by < 0) throw new RangeError(`Cannot decrease counter ${this.name}: got ${by}`);
    const entry = this.at(labels);
    if (entry) entry.value.n += by;
  }
  get(labels: Labels = {}): number {
    return this.series.get(this.keyOf(labels))?.value.n ?? 0;
  }
  samples(): string[] {
    return [...this.series.values()].map((s) =>
      `${this.name}${labelText(s.labels)} ${formatSampleValue(s.value.n)}`
    );
  }
}

export class Gauge extends Metric<{ n: number }> {
  readonly type = "gauge";
  protected initial() {
    return { n: 0 };
  }
  set(labels: Labels, value: number): void {
    const entry = this.at(labels);
    if (entry) entry.value.n = value;
  }
  inc(labels: Labels = {}, by = 1): void {
    const entry = this.at(labels);
    if (entry) entry.value.n += by;
  }
  samples(): string[] {
    return [...this.series.values()].map((s) =>
      `${this.name}${labelText(s.labels)} ${formatSampleValue(s.value.n)}`
    );
  }
}

interface HistogramSeries {
  readonly counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Metric<HistogramSeries> {
  readonly type = "histogram";
  readonly buckets: readonly number[];
  constructor(
    registry: MetricsRegistry,
    name: string,
    options: MetricOptions & { buckets?: readonly number[] },
  ) {
    super(registry, name, options);
    if ((options.labels ?? []).includes("le")) {
      throw new TypeError(`Cannot register histogram "${name}": "le" is reserved`);
    }
    this.buckets = [...(options.buckets ?? LATENCY_BUCKETS)].sort((a, b) => a - b);
  }
  protected initial(): HistogramSeries {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }
  observe(labels: Labels, value: number): void {
    const entry = this.at(labels);
    if (!entry) return;
    for (const [i, bound] of this.buckets.entries()) if (value <= bound) entry.value.counts[i]++;
    entry.value.sum += value;
    entry.value.count++;
  }
  samples(): string[] {
    const lines: string[] = [];
    for (const { labels, value } of this.series.values()) {
      for (const [i, bound] of this.buckets.entries()) {
        lines.push(
          `${this.name}_bucket${labelText(labels, ["le", formatSampleValue(bound)])} ${
            value.counts[i]
          }`,
        );
      }
      lines.push(`${this.name}_bucket${labelText(labels, ["le", "+Inf"])} ${value.count}`);
      lines.push(`${this.name}_sum${labelText(labels)} ${formatSampleValue(value.sum)}`);
      lines.push(`${this.name}_count${labelText(labels)} ${value.count}`);
    }
    return lines;
  }
}

/** Metrics by name, plus callbacks that refresh scrape-time gauges (ages, lag) before a render. */
export class MetricsRegistry {
  readonly #metrics = new Map<string, Counter | Gauge | Histogram>();
  readonly #collectors: Array<(now: number) => void> = [];
  droppedSeries = 0;

  constructor(readonly maxSeries = 1000) {}

  #add<M extends Counter | Gauge | Histogram>(metric: M): M {
    if (this.#metrics.has(metric.name)) {
      throw new TypeError(`Cannot register metric "${metric.name}": already registered`);
    }
    this.#metrics.set(metric.name, metric);
    return metric;
  }

  counter(name: string, options: MetricOptions): Counter {
    return this.#add(new Counter(this, name, options));
  }

  gauge(name: string, options: MetricOptions): Gauge {
    return this.#add(new Gauge(this, name, options));
  }

  histogram(name: string, options: MetricOptions & { buckets?: readonly number[] }): Histogram {
    return this.#add(new Histogram(this, name, options));
  }

  /** Runs before every render: for values that are ages ("seconds since"), computed at scrape. */
  onCollect(collect: (now: number) => void): void {
    this.#collectors.push(collect);
  }

  /** The whole registry in text format 0.0.4 (Content-Type: text/plain; version=0.0.4). */
  render(now = Date.now()): string {
    for (const collect of this.#collectors) collect(now);
    const out: string[] = [];
    for (const metric of this.#metrics.values()) {
      out.push(`# HELP ${metric.name} ${escapeHelp(metric.options.help)}`);
      out.push(`# TYPE ${metric.name} ${metric.type}`);
      out.push(...metric.samples());
    }
    out.push(
      "# HELP cryptopipe_metrics_series_dropped_total Label sets refused by the per-metric cap",
      "# TYPE cryptopipe_metrics_series_dropped_total counter",
      `cryptopipe_metrics_series_dropped_total ${this.droppedSeries}`,
    );
    return out.join("\n") + "\n";
  }
}

export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
