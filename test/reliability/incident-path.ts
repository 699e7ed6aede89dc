import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import type { DynamoDBBatchResponse, DynamoDBRecord, KinesisStreamBatchResponse } from 'aws-lambda';
import { DynamoIncidentStore } from '../../functions/adapters/incident-store';
import type { Notifier } from '../../functions/adapters/notifier';
import { StepFunctionsLauncher } from '../../functions/adapters/sfn-launcher';
import { keys, TABLE, TRANSITION_FILTER_PATTERN } from '../../functions/adapters/table-definition';
import type { Incident } from '../../functions/core/incidents';
import { createHandler as createIngest } from '../../functions/ingest-heartbeat/handler';
import { createHandler as createOnTransition } from '../../functions/on-transition/handler';
import { LOCAL_AWS } from '../../local/dynamodb-local';
import { matchesFilter } from '../../local/event-filter';
import { MemoryQuarantine } from '../../local/memory-quarantine';
import type { StreamPoller } from '../../local/stream-poller';
import type { TestTable } from '../support/dynamodb';
import { lsn, primaryHeartbeat, replicaHeartbeat, T0 } from '../support/heartbeats';
import { kinesisEvent, kinesisRecord } from '../support/kinesis';
import { lambdaContext, silentLogger } from '../support/lambda';
import { deliverStreamBatch, newStats, type StreamFailure } from './harness';

export const STATE_MACHINES = {
  'primary-failover': 'arn:aws:states:us-east-1:123456789012:stateMachine:replica-sentinel-primary-failover',
  'replica-recovery': 'arn:aws:states:us-east-1:123456789012:stateMachine:replica-sentinel-replica-recovery',
} as const;

/** The on-transition event source mapping as deployed (infra/constructs/detector.ts). */
const TRANSITION_RETRIES = 10;

/** Real SDK clients for the local recording endpoints (no SDK retries: faults reach the handler). */
export const sfnClient = (endpoint: string) => new SFNClient({ ...LOCAL_AWS, endpoint, maxAttempts: 1 });
export const snsClient = (endpoint: string) => new SNSClient({ ...LOCAL_AWS, endpoint, maxAttempts: 1 });

/**
 * The incident path on a real table: ingest-heartbeat writes node state, the table stream (polled through
 * the DynamoDB Streams API, filtered as the CDK mapping filters it) feeds on-transition, which starts the
 * runbook through the real StepFunctionsLauncher and announces through the given notifier. Deliveries
 * follow the stream mapping's rules (partial batch responses, retries, on-failure destination).
 */
export function incidentPath(
  table: TestTable,
  poller: StreamPoller,
  deps: { sfn: SFNClient; notifier: Notifier },
) {
  let now = T0;
  let heartbeats = 0;
  const ingest = createIngest(
    { store: table.store, quarantine: new MemoryQuarantine(), sweepShards: TABLE.sweepShards },
    { logger: silentLogger(), clock: () => now },
  );
  const onTransition = createOnTransition(
    {
      incidents: new DynamoIncidentStore(table.client, table.tableName),
      nodes: table.store,
      notifier: deps.notifier,
      runbooks: new StepFunctionsLauncher(deps.sfn, STATE_MACHINES),
    },
    { logger: silentLogger() },
  );
  const failures: StreamFailure<DynamoDBRecord>[] = [];
  const stats = newStats();

  /**
   * Heartbeats every 10 s from tick `from` for `ticks` ticks: the primary advances; the replica follows it,
   * or (stalled) stays where it was, so that it is STALLED after stallAfter (60 s).
   */
  async function replicaSeries(
    clusterId: string,
    from: number,
    ticks: number,
    stalled: boolean,
  ): Promise<void> {
    for (let tick = from; tick < from + ticks; tick++) {
      now = T0 + tick * 10_000;
      const head = 1000 + tick * 100;
      if (!stalled) appliedAt.set(clusterId, head);
      const applied = appliedAt.get(clusterId) ?? 1000;
      const records = [
        kinesisRecord(primaryHeartbeat({ clusterId, at: now, seq: tick + 1, position: lsn(head) })),
        kinesisRecord(replicaHeartbeat({ clusterId, at: now, seq: tick + 1, applied: lsn(applied) })),
      ];
      heartbeats += records.length;
      const response = (await ingest(
        kinesisEvent(records),
        lambdaContext('ingest-heartbeat'),
      )) as KinesisStreamBatchResponse;
      if (response.batchItemFailures.length > 0) throw new Error('ingest failed in an incident-path test');
    }
  }
  const appliedAt = new Map<string, number>();

  /** A replica that stops applying while its primary goes on: STALLED after stallAfter (60 s). */
  const stallReplica = (clusterId: string) => replicaSeries(clusterId, 0, 9, true);

  /** The cluster's status changes from the table stream, as the mapping's filter lets them through. */
  async function transitions(clusterId: string): Promise<DynamoDBRecord[]> {
    return (await poller.poll()).filter(
      (r) =>
        r.dynamodb?.Keys?.PK?.S === keys.clusterPk(clusterId) && matchesFilter(TRANSITION_FILTER_PATTERN, r),
    );
  }

  /** One delivery of the records to on-transition, retried as the stream mapping retries it. */
  function deliver(records: DynamoDBRecord[]): Promise<void> {
    return deliverStreamBatch(
      records,
      (batch) =>
        onTransition({ Records: batch }, lambdaContext('on-transition')) as Promise<DynamoDBBatchResponse>,
      {
        idOf: (r) => r.dynamodb?.SequenceNumber ?? '',
        retryAttempts: TRANSITION_RETRIES,
        bisect: true,
        failures,
      },
      stats,
    );
  }

  async function incidents(clusterId: string): Promise<Incident[]> {
    return (await table.clusterItems(clusterId))
      .filter((item) => String(item.SK).startsWith('INCIDENT#'))
      .map((item) => item as unknown as Incident);
  }

  return {
    stallReplica,
    replicaSeries,
    transitions,
    deliver,
    incidents,
    failures,
    stats,
    heartbeats: () => heartbeats,
  };
}
