/**
 * RecordingMetrics: the Metrics test double, kept in memory and aggregated as in CloudWatch (through the
 * same buffer as the EMF metrics).
 */
import { MetricBuffer } from '../../functions/adapters/metric-buffer';
import type { MetricDimensions, MetricName } from '../../functions/adapters/metric-names';
import type { Metrics } from '../../functions/adapters/metrics';

/** One published value, as {@link RecordingMetrics} keeps it. */
export interface RecordedMetric {
  readonly name: MetricName;
  readonly value: number;
  readonly dimensions: MetricDimensions;
}

/** Metrics kept in memory, aggregated as in CloudWatch, for tests (and anyone who wants to look). */
export class RecordingMetrics implements Metrics {
  /** Everything published so far, in order. */
  readonly published: RecordedMetric[] = [];
  private readonly buffer = new MetricBuffer();

  add(name: MetricName, value: number, dimensions: MetricDimensions = {}): void {
    this.buffer.add(name, value, dimensions);
  }

  publish(): void {
    for (const { dimensions, metrics } of this.buffer.drain().values())
      for (const { name, values } of metrics)
        for (const value of values) this.published.push({ name, value, dimensions });
  }

  /** Published values of `name` whose dimensions include `dimensions`. */
  values(name: MetricName, dimensions: MetricDimensions = {}): number[] {
    return this.published
      .filter((m) => m.name === name)
      .filter((m) => Object.entries(dimensions).every(([k, v]) => m.dimensions[k] === v))
      .map((m) => m.value);
  }

  /** Sum of {@link values}. */
  total(name: MetricName, dimensions: MetricDimensions = {}): number {
    return this.values(name, dimensions).reduce((a, b) => a + b, 0);
  }
}
