import { Metrics as PowertoolsMetrics } from '@aws-lambda-powertools/metrics';
import type { MetricUnit } from '@aws-lambda-powertools/metrics/types';
import type { MiddlewareObj } from '@middy/core';
import type { NodeState } from '../core/node-state';
import type { Policy } from '../core/policy';

/** CloudWatch namespace of every replica-sentinel metric. */
export const METRICS_NAMESPACE = 'ReplicaSentinel';

/**
 * How several values recorded in one invocation become what is published: `sum` (counts), `max`
 * (gauges such as lag: the worst value wins), `each` (distributions such as latency: every value).
 */
type Aggregate = 'sum' | 'max' | 'each';

/**
 * Every metric, its unit, and the dimensions it may carry besides `service` (the function, added by
 * Powertools). Dimensions are low-cardinality on purpose: never a node id; a cluster id only on the lag
 * gauge, where the set of clusters is the configured one (heartbeat ingestion is IAM-authenticated).
 */
export const METRICS = {
  /** Heartbeats that changed a node's state (ingest-heartbeat). */
  HeartbeatsIngested: { unit: 'Count', aggregate: 'sum', dimensions: [] },
  /** Heartbeats already seen (duplicate or out of order): accepted and ignored. */
  HeartbeatsStale: { unit: 'Count', aggregate: 'sum', dimensions: [] },
  /** Heartbeats quarantined as invalid (with their reason, in the quarantine queue). */
  HeartbeatsRejected: { unit: 'Count', aggregate: 'sum', dimensions: [] },
  /** Heartbeats folded into another one's write: applied heartbeats minus node writes. */
  HeartbeatsCoalesced: { unit: 'Count', aggregate: 'sum', dimensions: [] },
  /** Conditional node writes that lost to a concurrent writer (the batch re-reads and re-folds). */
  WriteConflicts: { unit: 'Count', aggregate: 'sum', dimensions: [] },
  /** Change events that moved a source head (ingest-change-stream). */
  ChangeEventsIngested: { unit: 'Count', aggregate: 'sum', dimensions: [] },
  /** Change events quarantined as invalid. */
  ChangeEventsRejected: { unit: 'Count', aggregate: 'sum', dimensions: [] },
  /** Worst replica lag seen in a batch, per cluster. */
  ReplicaLagSeconds: { unit: 'Seconds', aggregate: 'max', dimensions: ['ClusterId'] },
  /** Sweeps run (the sweep's heartbeat: missing data means the detector is not running). */
  SweepRuns: { unit: 'Count', aggregate: 'sum', dimensions: [] },
  /** Nodes found overdue by a sweep. */
  OverdueNodes: { unit: 'Count', aggregate: 'sum', dimensions: [] },
  /** Nodes per status, counted by the sweep's census once per invocation. */
  NodesByStatus: { unit: 'Count', aggregate: 'max', dimensions: ['Status'] },
  /** Milliseconds from when a status change became due to when it was written (see detectionLatencyMs). */
  DetectionLatency: { unit: 'Milliseconds', aggregate: 'each', dimensions: ['Status'] },
  /** Incidents opened, by kind (LAGGING, STALLED, SILENT, DEAD, SPLIT_BRAIN, WRONG_SOURCE, DATA_LOSS). */
  IncidentsOpened: { unit: 'Count', aggregate: 'sum', dimensions: ['Kind'] },
  /** Incidents resolved (by the node recovering, or by a runbook). */
  IncidentsResolved: { unit: 'Count', aggregate: 'sum', dimensions: [] },
  /** Runbook endings: `Outcome` is recovered, paged, no-candidate or failed. */
  RunbookOutcomes: { unit: 'Count', aggregate: 'sum', dimensions: ['Runbook', 'Outcome'] },
  /** Notifications delivered to Slack by notify-slack. */
  NotificationsSent: { unit: 'Count', aggregate: 'sum', dimensions: [] },
  /** Notifications notify-slack could not deliver (Lambda retries them, then dead-letters). */
  NotificationsFailed: { unit: 'Count', aggregate: 'sum', dimensions: [] },
} as const satisfies Record<
  string,
  { unit: `${MetricUnit}`; aggregate: Aggregate; dimensions: readonly string[] }
>;

export type MetricName = keyof typeof METRICS;
export type MetricDimensions = Readonly<Record<string, string>>;

/**
 * What handlers record metrics through (injected like the logger: index.ts passes {@link emfMetrics},
 * tests a {@link RecordingMetrics}). Values are buffered and published once per invocation by
 * {@link publishMetrics}.
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

/** Throws when a metric is given dimensions it does not declare (a node id would slip in otherwise). */
function checkDimensions(name: MetricName, dimensions: MetricDimensions): void {
  const allowed: readonly string[] = METRICS[name].dimensions;
  const keys = Object.keys(dimensions);
  if (keys.length !== allowed.length || keys.some((key) => !allowed.includes(key))) {
    throw new Error(
      `metric ${name} takes dimensions [${allowed.join(', ')}], got [${keys.join(', ')}] (see METRICS in functions/adapters/metrics.ts)`,
    );
  }
}

interface Series {
  readonly name: MetricName;
  readonly dimensions: MetricDimensions;
  values: number[];
}

/** Buffers values per (metric, dimensions) and aggregates them as METRICS says. */
class Buffer {
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

/** Values of one metric per EMF line: below Powertools' automatic flush at 100. */
export const EMF_VALUES_PER_LINE = 99;

/**
 * Metrics published as CloudWatch embedded metric format (EMF) log lines through Powertools Metrics:
 * one line per dimension set per invocation, namespace {@link METRICS_NAMESPACE}, dimension `service`.
 */
export function emfMetrics(serviceName: string, powertools?: PowertoolsMetrics): Metrics {
  const emf = powertools ?? new PowertoolsMetrics({ namespace: METRICS_NAMESPACE, serviceName });
  const buffer = new Buffer();
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
  private readonly buffer = new Buffer();

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

/** Middy middleware: publishes the invocation's metrics when the handler returns or throws. */
export function publishMetrics(metrics: Metrics): MiddlewareObj {
  const publish = async () => metrics.publish();
  return { after: publish, onError: publish };
}

/**
 * Detection latency of a status change written at `now`, in ms from the moment it became due:
 * - SILENT / DEAD (the sweep): from the node's deadline (`deadlineAt`, last heartbeat + timeout);
 * - STALLED: from the last progress plus `stallAfterSeconds`;
 * - any other change (a heartbeat showed it): from that heartbeat's observation time.
 * Undefined for a node's first write, which detects nothing.
 */
export function detectionLatencyMs(
  before: Pick<NodeState, 'deadlineAt' | 'lastProgressAt'> | undefined,
  after: Pick<NodeState, 'status' | 'lastHeartbeatAt'>,
  policy: Pick<Policy, 'stallAfterSeconds'>,
  now: number,
): number | undefined {
  if (!before) return undefined;
  const due: number =
    after.status === 'SILENT' || after.status === 'DEAD'
      ? before.deadlineAt
      : after.status === 'STALLED'
        ? before.lastProgressAt + policy.stallAfterSeconds * 1000
        : after.lastHeartbeatAt;
  // A change before its due time (a rescheduled deadline) has no latency to report.
  return due <= now ? now - due : undefined;
}
