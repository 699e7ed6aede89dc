import { describe, expect, it } from '@jest/globals';
import type { DynamoDBBatchResponse, DynamoDBRecord } from 'aws-lambda';
import { keys, TRANSITION_FILTER_PATTERN } from '../../functions/adapters/table-definition';
import { matchesFilter } from '../../local/event-filter';
import { MemoryNotifier } from '../../local/memory-notifier';
import { ingestOn, onTransitionOn } from '../support/handlers';
import { lsn, primaryHeartbeat, replicaHeartbeat, T0 } from '../support/heartbeats';
import { kinesisEvent, kinesisRecord } from '../support/kinesis';
import { lambdaContext, silentLogger } from '../support/lambda';
import { putClusterItem } from '../support/table-items';
import { useStreamedTable } from '../support/transitions';

const silent = silentLogger();
const context = lambdaContext();

describe('on-transition fed from the real table stream', () => {
  const { table, poller } = useStreamedTable('transitions');

  function pipeline() {
    let now = T0;
    const notifier = new MemoryNotifier();
    const started: string[] = [];
    const ingest = ingestOn(table, { logger: silent, clock: () => now });
    const onTransition = onTransitionOn(
      table,
      {
        notifier,
        runbooks: {
          start: async (incident) => {
            started.push(incident.incidentId);
            return { note: 'test launcher' };
          },
        },
      },
      silent,
    );
    const stalledSeries = async (clusterId: string, fromTick: number, ticks: number, stall: boolean) => {
      for (let i = fromTick; i < fromTick + ticks; i++) {
        now = T0 + i * 10_000;
        await ingest(
          kinesisEvent([
            kinesisRecord(
              primaryHeartbeat({ clusterId, at: now, seq: i + 1, position: lsn(1000 + i * 100) }),
            ),
            kinesisRecord(
              replicaHeartbeat({
                clusterId,
                at: now,
                seq: i + 1,
                applied: lsn(stall ? 1000 : 1000 + i * 100),
              }),
            ),
          ]),
          context,
        );
      }
    };
    /** Polls the stream and keeps what the event filter would let through. */
    const transitions = async (clusterId: string) => {
      const records = await poller.poll();
      const mine = records.filter((r) => r.dynamodb?.Keys?.PK?.S === keys.clusterPk(clusterId));
      return { all: mine, passed: mine.filter((r) => matchesFilter(TRANSITION_FILTER_PATTERN, r)) };
    };
    const deliver = (records: DynamoDBRecord[]) =>
      onTransition({ Records: records }, context) as Promise<DynamoDBBatchResponse>;
    return { notifier, started, stalledSeries, transitions, deliver };
  }

  it('opens one incident for a stall however often the stream records are delivered, and resolves it once', async () => {
    const clusterId = 'stream-stall';
    const { notifier, started, stalledSeries, transitions, deliver } = pipeline();
    await stalledSeries(clusterId, 0, 9, true);
    const { all, passed } = await transitions(clusterId);
    // Every write produced a record; only status changes pass the filter: two new nodes and HEALTHY→STALLED.
    expect(all.length).toBe(18);
    expect(passed.map((r) => r.dynamodb?.NewImage?.transitionTo?.S)).toEqual([
      'HEALTHY',
      'HEALTHY',
      'STALLED',
    ]);

    for (let delivery = 0; delivery < 3; delivery++) {
      expect((await deliver(passed)).batchItemFailures).toEqual([]);
    }

    const items = await table.clusterItems(clusterId);
    const incidents = items.filter((item) => String(item.SK).startsWith('INCIDENT#'));
    expect(incidents).toHaveLength(1);
    expect(incidents[0]).toMatchObject({
      kind: 'STALLED',
      state: 'OPEN',
      nodeId: 'pg-2',
      revision: 1,
      outbox: {},
    });
    expect(notifier.published.map((n) => n.metadata.eventType)).toEqual(['incident-opened']);
    expect(started).toEqual([incidents[0]?.incidentId]);

    await stalledSeries(clusterId, 9, 3, false);
    const recovery = await transitions(clusterId);
    expect(recovery.passed.map((r) => r.dynamodb?.NewImage?.transitionTo?.S)).toEqual(['HEALTHY']);
    await deliver(recovery.passed);
    await deliver(recovery.passed);
    const after = (await table.clusterItems(clusterId)).filter((item) =>
      String(item.SK).startsWith('INCIDENT#'),
    );
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ state: 'RESOLVED', revision: 2 });
    expect(notifier.published.map((n) => n.id)).toEqual([
      `${incidents[0]?.incidentId}#1`,
      `${incidents[0]?.incidentId}#2`,
    ]);
  });

  it('raises no incident and starts no runbook while the cluster is in maintenance, and says why', async () => {
    const clusterId = 'stream-maintenance';
    const { notifier, started, stalledSeries, transitions, deliver } = pipeline();
    await putClusterItem(table, clusterId, {
      mode: 'auto',
      maintenanceUntil: T0 + 3_600_000,
      maintenanceBy: 'alice',
      maintenanceReason: 'minor version upgrade',
    });
    await stalledSeries(clusterId, 0, 9, true);
    const { passed } = await transitions(clusterId);
    expect(passed.map((r) => r.dynamodb?.NewImage?.transitionTo?.S)).toContain('STALLED');

    await deliver(passed);

    const incidents = (await table.clusterItems(clusterId)).filter((item) =>
      String(item.SK).startsWith('INCIDENT#'),
    );
    expect(incidents).toEqual([]);
    expect(notifier.published).toEqual([]);
    expect(started).toEqual([]);
  });

  it('re-delivers a notification whose publish failed, and only that one', async () => {
    const clusterId = 'stream-retry';
    const { stalledSeries, transitions } = pipeline();
    const delivered: string[] = [];
    let failures = 1;
    const onTransition = onTransitionOn(
      table,
      {
        notifier: {
          publish: async (n) => {
            if (failures-- > 0)
              throw Object.assign(new Error('SNS throttled'), { name: 'ThrottledException' });
            delivered.push(n.id);
          },
        },
        runbooks: { start: async () => ({ note: 'test launcher' }) },
      },
      silent,
    );
    await stalledSeries(clusterId, 0, 9, true);
    const { passed } = await transitions(clusterId);

    const first = (await onTransition({ Records: passed }, context)) as DynamoDBBatchResponse;
    const stallRecord = passed.find((r) => r.dynamodb?.NewImage?.transitionTo?.S === 'STALLED');
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: stallRecord?.dynamodb?.SequenceNumber }]);
    expect(delivered).toEqual([]);

    const index = passed.indexOf(stallRecord as DynamoDBRecord);
    await onTransition({ Records: passed.slice(index) }, context);
    await onTransition({ Records: passed.slice(index) }, context);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]).toMatch(/#1$/);
  });
});
