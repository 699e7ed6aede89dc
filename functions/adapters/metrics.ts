/**
 * The Metrics interface handlers record through, and the one that records nothing. The metrics themselves
 * are in metric-names.ts; the EMF implementation in metrics-emf.ts.
 */
import type { MetricDimensions, MetricName } from './metric-names';

/**
 * What handlers record metrics through (injected like the logger: index.ts passes emfMetrics of
 * metrics-emf.ts, tests a RecordingMetrics of test/support/recording-metrics.ts). Values are buffered and
 * published once per invocation by publishMetrics (metrics-middleware.ts).
 *
 * @example
 * metrics.add('HeartbeatsIngested', report.applied);
 * metrics.add('NodesByStatus', 12, { Status: 'HEALTHY' });
 */
export interface Metrics {
  add(name: MetricName, value: number, dimensions?: MetricDimensions): void;
  /** Publishes what was added since the last call. */
  publish(): void;
}

/** Metrics that go nowhere: the default of createHandler (local mode, tests that do not look). */
export const noMetrics: Metrics = { add: () => undefined, publish: () => undefined };
