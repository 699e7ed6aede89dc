import { describe, expect, it } from '@jest/globals';
import { TABLE } from '../../functions/adapters/table-definition';
import { sweepOnce } from '../../functions/sweep/sweep';
import { MemoryNotifier } from '../../local/memory-notifier';
import { ingestOn, onTransitionOn } from '../support/handlers';
import { lsn, replicaHeartbeat, T0 } from '../support/heartbeats';
import { kinesisEvent, kinesisRecord } from '../support/kinesis';
import { lambdaContext, silentLogger } from '../support/lambda';
import { transitionRecords, useStreamedTable } from '../support/transitions';

const silent = silentLogger();
const context = lambdaContext();

describe('a node oscillating around its heartbeat timeout', () => {
  const { table, poller } = useStreamedTable('flapping');

  it('raises one incident per cooldown, reopened on each flap, through ingest, sweep, stream and on-transition', async () => {
    const clusterId = 'flappy';
    let now = T0;
    const notifier = new MemoryNotifier();
    const ingest = ingestOn(table, { logger: silent, clock: () => now });
    const onTransition = onTransitionOn(
      table,
      { notifier, runbooks: { start: async () => ({ note: 'none' }) } },
      silent,
    );
    // Heartbeats with gaps of 25, 25, 25 and 45 s, repeated for 10 minutes; the timeout is 30 s and the
    // sweep runs every 10 s, so the node goes SILENT after every long gap and recovers after 3 short ones.
    const gaps = [25, 25, 25, 45];
    const beats: number[] = [];
    for (let t = 0, i = 0; t < 600; t += gaps[i++ % gaps.length] ?? 25) beats.push(T0 + t * 1000);
    let seq = 0;
    for (let t = T0; t <= T0 + 600_000; t += 5000) {
      now = t;
      if (beats.includes(t)) {
        seq++;
        await ingest(
          kinesisEvent([kinesisRecord(replicaHeartbeat({ clusterId, at: t, seq, applied: lsn(seq) }))]),
          context,
        );
      }
      if ((t - T0) % 10_000 === 0) {
        await sweepOnce(
          { index: table.store, store: table.store, logger: silent, shards: TABLE.sweepShards },
          t,
        );
      }
      const records = await transitionRecords(poller);
      if (records.length > 0) await onTransition({ Records: records }, context);
    }

    const incidents = (await table.clusterItems(clusterId)).filter((i) =>
      String(i.SK).startsWith('INCIDENT#'),
    );
    expect(incidents).toHaveLength(1);
    const incident = incidents[0] as { flaps: number; kind: string; timeline: { event: string }[] };
    expect(incident.kind).toBe('SILENT');
    expect(incident.flaps).toBeGreaterThanOrEqual(3);
    expect(incident.timeline.filter((e) => e.event === 'opened')).toHaveLength(1);
    expect(new Set(notifier.published.map((n) => n.metadata.threadId)).size).toBe(1);
  });
});
