import type { KinesisStreamRecord } from 'aws-lambda';
import { mapWithLimit } from '../adapters/concurrency';
import { TransientError } from '../adapters/errors';
import { type InvalidRecord, recordBytes, settleKinesisBatch } from '../adapters/kinesis';
import type { Log } from '../adapters/log';
import type { NodeStateStore } from '../adapters/node-state-store';
import type { Quarantine } from '../adapters/quarantine';
import { detectionLatencyMs } from '../core/detection-latency';
import { InvalidRecordError } from '../core/errors';
import { foldCluster, type IdentifiedHeartbeat } from '../core/fold';
import { decodeJson, type Heartbeat, MAX_HEARTBEAT_BYTES, parseHeartbeat } from '../core/wire';

export interface IngestDeps {
  readonly store: NodeStateStore;
  readonly quarantine: Quarantine;
  readonly logger: Log;
  readonly sweepShards: number;
  /** Name recorded on quarantined records. */
  readonly source?: string;
  /** Re-reads after a concurrent write before giving up on a node for this delivery. @default 3 */
  readonly maxConflictRetries?: number;
  /** Clusters handled at once. @default 16 */
  readonly clusterConcurrency?: number;
}

export interface IngestReport {
  /** Records to report as batch item failures (transient): Lambda retries from the earliest. */
  readonly failures: Map<string, Error>;
  readonly records: number;
  readonly applied: number;
  readonly stale: number;
  readonly quarantined: number;
  /** Node writes made: one per changed node, however many heartbeats it had in the batch. */
  readonly writes: number;
  /** Node writes that lost to a concurrent writer (re-read and re-folded). */
  readonly conflicts: number;
  /** Status changes written, with their detection latency (see detectionLatencyMs). */
  readonly detections: readonly { readonly status: string; readonly latencyMs: number }[];
  /** Worst replica lag (seconds) written per cluster. */
  readonly maxLagSeconds: ReadonlyMap<string, number>;
}

interface Parsed {
  readonly index: number;
  readonly record: KinesisStreamRecord;
  readonly heartbeat: Heartbeat;
}

/**
 * Ingests one Kinesis batch of heartbeats:
 * 1. decode and validate every record; invalid ones are permanent failures, quarantined with the reason;
 * 2. per cluster, read the cluster once, fold its heartbeats through the detection rules, and write each
 *    changed node once, conditionally on the version read (a concurrent writer makes us re-read and re-fold);
 * 3. transient failures (throttling, timeouts) are returned to be reported as batch item failures.
 * 4. invalid records are quarantined once (see settleKinesisBatch).
 */
export async function ingestHeartbeats(
  records: readonly KinesisStreamRecord[],
  deps: IngestDeps,
  now: number,
): Promise<IngestReport> {
  const source = deps.source ?? 'ingest-heartbeat';
  const invalid: InvalidRecord[] = [];
  const valid: Parsed[] = [];
  records.forEach((record, index) => {
    try {
      const heartbeat = parseHeartbeat(decodeJson(recordBytes(record), MAX_HEARTBEAT_BYTES, 'heartbeat'));
      valid.push({ index, record, heartbeat });
    } catch (error) {
      if (!(error instanceof InvalidRecordError)) throw error;
      invalid.push({ index, reason: error.message });
    }
  });

  const byCluster = new Map<string, Parsed[]>();
  for (const item of valid) {
    const list = byCluster.get(item.heartbeat.clusterId) ?? [];
    list.push(item);
    byCluster.set(item.heartbeat.clusterId, list);
  }

  const failedIndexes = new Map<number, Error>();
  let applied = 0;
  let stale = 0;
  let writes = 0;
  let conflicts = 0;
  const detections: { status: string; latencyMs: number }[] = [];
  const maxLagSeconds = new Map<string, number>();
  const maxRetries = deps.maxConflictRetries ?? 3;

  await mapWithLimit([...byCluster.entries()], deps.clusterConcurrency ?? 16, async ([clusterId, items]) => {
    let pending = items;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > maxRetries) {
        const error = new TransientError(
          `node state of cluster ${clusterId} kept changing under us; retrying later`,
        );
        for (const item of pending) failedIndexes.set(item.index, error);
        return;
      }
      let snapshot: Awaited<ReturnType<NodeStateStore['loadCluster']>>;
      try {
        snapshot = await deps.store.loadCluster(clusterId);
      } catch (error) {
        // Any store error is reported, never thrown: Lambda retries (bisecting) and, past the retry
        // limit, sends the batch's coordinates to the on-failure destination. Nothing is dropped.
        for (const item of pending) failedIndexes.set(item.index, asError(error));
        return;
      }
      const byId = new Map(pending.map((item) => [String(item.index), item]));
      const input: IdentifiedHeartbeat[] = pending.map((item) => ({
        id: String(item.index),
        heartbeat: item.heartbeat,
      }));
      const fold = foldCluster(snapshot, input, { now, sweepShards: deps.sweepShards });

      const results = await Promise.all(
        [...fold.changed.values()].map(async (state) => {
          try {
            return { state, result: await deps.store.putNode(state) };
          } catch (error) {
            return { state, result: asError(error) };
          }
        }),
      );
      const conflicted = new Set<string>();
      const failedNodes = new Map<string, Error>();
      for (const { state, result } of results) {
        if (result === 'written') {
          writes++;
          const latencyMs = state.transitionTo
            ? detectionLatencyMs(snapshot.nodes.get(state.nodeId), state, snapshot.policy, now)
            : undefined;
          if (latencyMs !== undefined) detections.push({ status: state.status, latencyMs });
          if (state.lagSeconds !== undefined)
            maxLagSeconds.set(clusterId, Math.max(state.lagSeconds, maxLagSeconds.get(clusterId) ?? 0));
        } else if (result === 'conflict') {
          conflicts++;
          conflicted.add(state.nodeId);
        } else failedNodes.set(state.nodeId, result);
      }
      const retry: Parsed[] = [];
      for (const [id, outcome] of fold.outcomes) {
        const item = byId.get(id);
        if (!item) continue;
        if (conflicted.has(outcome.nodeId)) retry.push(item);
        else if (failedNodes.has(outcome.nodeId))
          failedIndexes.set(item.index, failedNodes.get(outcome.nodeId) as Error);
        else if (outcome.kind === 'applied') applied++;
        else if (outcome.kind === 'stale') {
          stale++;
          deps.logger.debug('heartbeat already seen', {
            clusterId,
            nodeId: outcome.nodeId,
            reason: outcome.reason,
          });
        } else invalid.push({ index: item.index, reason: outcome.reason });
      }
      if (retry.length > 0) deps.logger.debug('concurrent node update; re-reading', { clusterId, attempt });
      pending = retry;
    }
  });

  const { failures, quarantined } = await settleKinesisBatch(records, invalid, failedIndexes, {
    quarantine: deps.quarantine,
    log: deps.logger,
    source,
    now,
  });
  return {
    failures,
    records: records.length,
    applied,
    stale,
    quarantined,
    writes,
    conflicts,
    detections,
    maxLagSeconds,
  };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new TransientError(String(error));
}
