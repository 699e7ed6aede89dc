import { describe, expect, it } from '@jest/globals';
import { TABLE } from '../../functions/adapters/table-definition';
import { sweepOnce } from '../../functions/sweep/sweep';
import { fleet, putItems } from '../../local/fleet';
import { useTestTable } from '../support/dynamodb';
import { ingestOn } from '../support/handlers';
import { lsn, primaryHeartbeat, replicaHeartbeat, T0 } from '../support/heartbeats';
import { kinesisEvent, kinesisRecord } from '../support/kinesis';
import { lambdaContext, silentLogger } from '../support/lambda';

const NOW = T0 + 3_600_000;
const silent = silentLogger();
const context = lambdaContext();

describe('the silence sweep on DynamoDB Local', () => {
  const table = useTestTable('sweep');

  it('marks exactly the 5 overdue nodes of a 10,000-node fleet, judging only their clusters', async () => {
    const late = [17, 503, 1200, 1999, 2450];
    const overdue = late.map((c) => `fleet-${c}`);
    await putItems(table.client, table.tableName, fleet(2500, 4, NOW, late));

    const report = await sweepOnce(
      { index: table.store, store: table.store, logger: silent, shards: TABLE.sweepShards },
      NOW,
    );

    // Every reporting node whose deadline bucket has begun is a candidate; its exact deadline decides.
    expect(report).toMatchObject({ overdue: 5, marked: 5, lostRaces: 0 });
    expect(report.candidates).toBeLessThanOrEqual(10_000);
    // Their clusters' node items, read once per cluster for the exact deadlines.
    expect(report.deadlineItemsRead).toBeGreaterThanOrEqual(report.candidates);
    expect(report.deadlineItemsRead).toBeLessThanOrEqual(10_000);
    // Judging a node reads its cluster once: here 4 nodes each, so 20 items, however big the fleet.
    expect(report.clusterItemsRead).toBe(20);
    expect(report.transitions.map((t) => t.clusterId).sort()).toEqual([...overdue].sort());
    for (const clusterId of overdue) {
      expect(await table.getNode(clusterId, 'n1')).toMatchObject({
        status: 'SILENT',
        transitionTo: 'SILENT',
      });
      expect(await table.getNode(clusterId, 'n2')).toMatchObject({ status: 'HEALTHY' });
    }
    const again = await sweepOnce(
      { index: table.store, store: table.store, logger: silent, shards: TABLE.sweepShards },
      NOW + 1000,
    );
    expect(again).toMatchObject({ overdue: 0, marked: 0 });
  });

  it('lets a heartbeat that lands while the sweep is judging the node win', async () => {
    const clusterId = 'race-sweep';
    let now = NOW - 31_000;
    const ingest = ingestOn(table, { logger: silent, clock: () => now });
    await ingest(
      kinesisEvent([kinesisRecord(replicaHeartbeat({ clusterId, at: now, seq: 1, applied: lsn(5) }))]),
      context,
    );
    now = NOW;
    let raced = false;
    table.client.middlewareStack.add(
      (next, ctx) => async (args) => {
        const item = (args.input as { Item?: { clusterId?: string; status?: string } }).Item;
        if (
          !raced &&
          ctx.commandName === 'PutItemCommand' &&
          item?.clusterId === clusterId &&
          item.status === 'SILENT'
        ) {
          raced = true;
          await ingest(
            kinesisEvent([kinesisRecord(replicaHeartbeat({ clusterId, at: now, seq: 2, applied: lsn(6) }))]),
            context,
          );
        }
        return next(args);
      },
      { step: 'initialize', name: 'sweep-race' },
    );

    const report = await sweepOnce(
      { index: table.store, store: table.store, logger: silent, shards: TABLE.sweepShards },
      NOW,
    );

    expect(raced).toBe(true);
    expect(report.lostRaces).toBeGreaterThanOrEqual(1);
    expect(await table.getNode(clusterId, 'pg-2')).toMatchObject({
      status: 'HEALTHY',
      seq: 2,
      deadlineAt: NOW + 30_000,
    });
  });

  it('declares a silent primary DEAD only once two replicas report their link down', async () => {
    const clusterId = 'quorum-e2e';
    let now = T0;
    const ingest = ingestOn(table, { logger: silent, clock: () => now });
    const send = (records: object[]) => ingest(kinesisEvent(records.map((r) => kinesisRecord(r))), context);
    await send([
      primaryHeartbeat({ clusterId, at: now, seq: 1, position: lsn(100) }),
      replicaHeartbeat({ clusterId, at: now, seq: 1, applied: lsn(100) }),
      replicaHeartbeat({ clusterId, nodeId: 'pg-3', at: now, seq: 1, applied: lsn(100) }),
    ]);
    const sweep = () =>
      sweepOnce({ index: table.store, store: table.store, logger: silent, shards: TABLE.sweepShards }, now);
    const linkDown = (nodeId: string, seq: number) => {
      const hb = replicaHeartbeat({ clusterId, nodeId, at: now, seq, applied: lsn(100) });
      return { ...hb, replication: { ...hb.replication, linkUp: false } };
    };

    now = T0 + 35_000;
    await send([
      linkDown('pg-2', 2),
      replicaHeartbeat({ clusterId, nodeId: 'pg-3', at: now, seq: 2, applied: lsn(100) }),
    ]);
    await sweep();
    expect(await table.getNode(clusterId, 'pg-1')).toMatchObject({ status: 'SILENT' });

    now = T0 + 45_000;
    await send([linkDown('pg-2', 3), linkDown('pg-3', 3)]);
    await sweep();
    const primary = await table.getNode(clusterId, 'pg-1');
    expect(primary).toMatchObject({ status: 'DEAD', transitionFrom: 'SILENT', transitionTo: 'DEAD' });
    expect(primary?.statusReason).toContain('2/2 views confirm');
  });
});
