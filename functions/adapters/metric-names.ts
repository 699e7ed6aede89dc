/**
 * The registry of replica-sentinel's CloudWatch metrics: the namespace, every metric's name, unit, how its
 * values aggregate within one invocation, and the dimensions it may carry.
 */
import type { MetricUnit } from '@aws-lambda-powertools/metrics/types';

/** CloudWatch namespace of every replica-sentinel metric. */
export const METRICS_NAMESPACE = 'ReplicaSentinel';

/**
 * How several values recorded in one invocation become what is published: `sum` (counts), `max`
 * (gauges such as lag: the worst value wins), `each` (distributions such as latency: every value).
 */
export type Aggregate = 'sum' | 'max' | 'each';

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
  /**
   * Milliseconds from when a status change became due to when it was written (see detectionLatencyMs,
   * functions/core/detection-latency.ts).
   */
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
