/**
 * The per-invocation buffer behind every Metrics implementation: values kept per (metric, dimensions),
 * checked against the registry, and aggregated as METRICS says when drained.
 */
import { type Aggregate, METRICS, type MetricDimensions, type MetricName } from './metric-names';

/** Throws when a metric is given dimensions it does not declare (a node id would slip in otherwise). */
function checkDimensions(name: MetricName, dimensions: MetricDimensions): void {
  const allowed: readonly string[] = METRICS[name].dimensions;
  const keys = Object.keys(dimensions);
  if (keys.length !== allowed.length || keys.some((key) => !allowed.includes(key))) {
    throw new Error(
      `metric ${name} takes dimensions [${allowed.join(', ')}], got [${keys.join(', ')}] (see METRICS in functions/adapters/metric-names.ts)`,
    );
  }
}

interface Series {
  readonly name: MetricName;
  readonly dimensions: MetricDimensions;
  values: number[];
}

/** Buffers values per (metric, dimensions) and aggregates them as METRICS says. */
export class MetricBuffer {
  private series = new Map<string, Series>();

  add(name: MetricName, value: number, dimensions: MetricDimensions): void {
    checkDimensions(name, dimensions);
    if (!Number.isFinite(value)) return;
    const key = JSON.stringify([name, Object.entries(dimensions).sort()]);
    const series = this.series.get(key) ?? { name, dimensions, values: [] };
    series.values.push(value);
    this.series.set(key, series);
  }

  /** The aggregated series, grouped by dimension set; the buffer is emptied. */
  drain(): Map<
    string,
    { dimensions: MetricDimensions; metrics: Array<{ name: MetricName; values: number[] }> }
  > {
    const groups = new Map<
      string,
      { dimensions: MetricDimensions; metrics: Array<{ name: MetricName; values: number[] }> }
    >();
    for (const { name, dimensions, values } of this.series.values()) {
      const aggregate: Aggregate = METRICS[name].aggregate;
      const published =
        aggregate === 'sum'
          ? [values.reduce((a, b) => a + b, 0)]
          : aggregate === 'max'
            ? [Math.max(...values)]
            : values;
      const key = JSON.stringify(Object.entries(dimensions).sort());
      const group = groups.get(key) ?? { dimensions, metrics: [] };
      group.metrics.push({ name, values: published });
      groups.set(key, group);
    }
    this.series = new Map();
    return groups;
  }
}
