import { describe, expect, it } from '@jest/globals';
import { documentClient } from '../../functions/adapters/clients';
import { DynamoFleetCensus } from '../../functions/adapters/fleet-census';
import { TABLE } from '../../functions/adapters/table-definition';
import { createHandler as createSweep } from '../../functions/sweep/handler';
import { LOCAL_AWS } from '../../local/dynamodb-local';
import { localEndpoint, useTestTable } from '../support/dynamodb';
import { injectFaults, throttlingError } from '../support/faults';
import { ingestOn } from '../support/handlers';
import { lsn, primaryHeartbeat, replicaHeartbeat, T0 } from '../support/heartbeats';
import { kinesisEvent, kinesisRecord } from '../support/kinesis';
import { lambdaContext, silentLogger } from '../support/lambda';
import { RecordingMetrics } from '../support/recording-metrics';

const silent = silentLogger();
const context = lambdaContext('test', { remainingMs: 900_000 });

describe('metrics of the real handlers on DynamoDB Local', () => {
  const table = useTestTable('metrics', 'each');

  const ingestWith = (metrics: RecordingMetrics, clock: () => number) =>
    ingestOn(table, { logger: silent, metrics, clock });

  it('counts ingested, stale, rejected and coalesced heartbeats of one batch and the worst lag per cluster', async () => {
    const metrics = new RecordingMetrics();
    const ingest = ingestWith(metrics, () => T0 + 2_000);
    const replica = (seq: number, lagSeconds: number) => {
      const hb = replicaHeartbeat({ clusterId: 'm-lag', at: T0 + seq * 100, seq, applied: lsn(1000) });
      return { ...hb, replication: { ...hb.replication, lagSeconds } };
    };

    await ingest(
      kinesisEvent([
        kinesisRecord(primaryHeartbeat({ clusterId: 'm-lag', at: T0, seq: 1, position: lsn(1000) })),
        kinesisRecord(replica(1, 4)),
        kinesisRecord(replica(2, 9)),
        kinesisRecord(replica(3, 2)),
        kinesisRecord(replica(2, 9)),
        kinesisRecord('{"v":1,"clusterId":', 'pg-9'),
      ]),
      context,
    );

    // 4 heartbeats applied in 2 node writes; the repeated seq 2 is stale; the truncated JSON quarantined.
    expect(metrics.total('HeartbeatsIngested')).toBe(4);
    expect(metrics.total('HeartbeatsCoalesced')).toBe(2);
    expect(metrics.total('HeartbeatsStale')).toBe(1);
    expect(metrics.total('HeartbeatsRejected')).toBe(1);
    expect(metrics.total('WriteConflicts')).toBe(0);
    const stored = await table.getNode('m-lag', 'pg-2');
    expect(stored?.lagSeconds).toBeDefined();
    expect(metrics.values('ReplicaLagSeconds', { ClusterId: 'm-lag' })).toEqual([stored?.lagSeconds]);
  });

  it('counts the sweep, its verdicts with their latency after the deadline, and the fleet by status', async () => {
    let now = T0;
    const ingest = ingestWith(new RecordingMetrics(), () => now);
    await ingest(
      kinesisEvent([
        kinesisRecord(primaryHeartbeat({ clusterId: 'm-sweep', at: T0, seq: 1, position: lsn(10) })),
        kinesisRecord(replicaHeartbeat({ clusterId: 'm-sweep', at: T0, seq: 1, applied: lsn(10) })),
      ]),
      context,
    );
    now = T0 + 20_000;
    await ingest(
      kinesisEvent([
        kinesisRecord(replicaHeartbeat({ clusterId: 'm-fresh', at: now, seq: 1, applied: lsn(10) })),
      ]),
      context,
    );
    const deadline = (await table.getNode('m-sweep', 'pg-2'))?.deadlineAt ?? Number.NaN;
    now = deadline + 1_234;
    const metrics = new RecordingMetrics();
    const sweep = createSweep(
      {
        index: table.store,
        store: table.store,
        shards: TABLE.sweepShards,
        census: new DynamoFleetCensus(table.client, table.tableName),
      },
      { intervalSeconds: 10 },
      { logger: silent, metrics, clock: () => now },
    );

    await sweep({}, context);

    expect(metrics.total('SweepRuns')).toBe(1);
    expect(metrics.total('OverdueNodes')).toBe(2);
    expect(metrics.values('DetectionLatency', { Status: 'SILENT' })).toEqual([1_234, 1_234]);
    expect(metrics.values('NodesByStatus', { Status: 'SILENT' })).toEqual([2]);
    expect(metrics.values('NodesByStatus', { Status: 'HEALTHY' })).toEqual([1]);
    expect(metrics.values('NodesByStatus', { Status: 'DEAD' })).toEqual([0]);

    // The window's next slot sweeps again but counts the fleet only once a minute (on slot 0).
    const first = await sweep({ windowStart: new Date(now).toISOString() }, context);
    expect(first).toMatchObject({ index: 1, done: false });
    await sweep(first, context);
    expect(metrics.total('SweepRuns')).toBe(3);
    expect(metrics.values('NodesByStatus', { Status: 'SILENT' })).toEqual([2, 2]);
  });

  it('still sweeps, and publishes no census, when the census read is throttled', async () => {
    let now = T0;
    await ingestWith(new RecordingMetrics(), () => now)(
      kinesisEvent([
        kinesisRecord(primaryHeartbeat({ clusterId: 'm-census', at: now, seq: 1, position: lsn(10) })),
      ]),
      context,
    );
    const deadline = (await table.getNode('m-census', 'pg-1'))?.deadlineAt ?? Number.NaN;
    now = deadline + 1;
    const censusClient = documentClient({ ...LOCAL_AWS, endpoint: localEndpoint(), maxAttempts: 1 });
    const faults = injectFaults(censusClient, {
      decide: () => 'before',
      error: () => throttlingError('ThrottlingException'),
    });
    const metrics = new RecordingMetrics();
    const sweep = createSweep(
      {
        index: table.store,
        store: table.store,
        shards: TABLE.sweepShards,
        census: new DynamoFleetCensus(censusClient, table.tableName),
      },
      { intervalSeconds: 10 },
      { logger: silent, metrics, clock: () => now },
    );
    try {
      const result = await sweep({}, context);
      expect(result.swept).toMatchObject({ index: 0, overdue: 1, marked: 1 });
      expect(faults.total()).toBeGreaterThan(0);
      expect(metrics.total('SweepRuns')).toBe(1);
      expect(metrics.values('NodesByStatus', { Status: 'HEALTHY' })).toEqual([]);
      expect((await table.getNode('m-census', 'pg-1'))?.status).toBe('SILENT');
    } finally {
      censusClient.destroy();
    }
  });
});
