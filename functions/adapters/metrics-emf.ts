/**
 * Metrics published as CloudWatch embedded metric format (EMF) log lines through Powertools Metrics: what
 * the Lambda functions' index.ts wire in.
 */
import { Metrics as PowertoolsMetrics } from '@aws-lambda-powertools/metrics';
import type { MetricUnit } from '@aws-lambda-powertools/metrics/types';
import { MetricBuffer } from './metric-buffer';
import { METRICS, METRICS_NAMESPACE } from './metric-names';
import type { Metrics } from './metrics';

/** Values of one metric per EMF line: below Powertools' automatic flush at 100. */
export const EMF_VALUES_PER_LINE = 99;

/**
 * Metrics published as CloudWatch embedded metric format (EMF) log lines through Powertools Metrics:
 * one line per dimension set per invocation, namespace {@link METRICS_NAMESPACE}, dimension `service`.
 */
export function emfMetrics(serviceName: string, powertools?: PowertoolsMetrics): Metrics {
  const emf = powertools ?? new PowertoolsMetrics({ namespace: METRICS_NAMESPACE, serviceName });
  const buffer = new MetricBuffer();
  return {
    add: (name, value, dimensions = {}) => buffer.add(name, value, dimensions),
    publish: () => {
      for (const { dimensions, metrics } of buffer.drain().values()) {
        // Powertools flushes by itself when a metric holds 100 values, and that flush drops the dimensions:
        // publish at most EMF_VALUES_PER_LINE values of each metric per line, the dimensions set each time.
        const lines = Math.max(1, ...metrics.map((m) => Math.ceil(m.values.length / EMF_VALUES_PER_LINE)));
        for (let line = 0; line < lines; line++) {
          // addDimension (not addDimensions, which adds a second dimension set) keeps one set per line.
          for (const [key, value] of Object.entries(dimensions)) emf.addDimension(key, value);
          for (const { name, values } of metrics) {
            const chunk = values.slice(line * EMF_VALUES_PER_LINE, (line + 1) * EMF_VALUES_PER_LINE);
            for (const value of chunk) emf.addMetric(name, METRICS[name].unit as MetricUnit, value);
          }
          emf.publishStoredMetrics();
        }
      }
    },
  };
}
