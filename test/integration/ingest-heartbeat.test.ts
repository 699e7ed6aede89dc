import { FullBatchFailureError } from '@aws-lambda-powertools/batch';
import { describe, expect, it } from '@jest/globals';
import type { KinesisStreamBatchResponse } from 'aws-lambda';
import { TABLE } from '../../functions/adapters/table-definition';
import { createHandler } from '../../functions/ingest-heartbeat/handler';
import { MemoryQuarantine } from '../../local/memory-quarantine';
import { countCommands, useTestTable } from '../support/dynamodb';
import { lsn, primaryHeartbeat, replicaHeartbeat, T0 } from '../support/heartbeats';
import { kinesisEvent, kinesisRecord, redeliveryFrom } from '../support/kinesis';
import { lambdaContext, silentLogger } from '../support/lambda';

const context = lambdaContext('ingest-heartbeat');
const quietLogger = () => silentLogger('ingest-heartbeat');

const table = useTestTable('ingest');

/** A handler on the real table with a clock the test moves, and the quarantine it writes to. */
function setup(clusterSuffix: string) {
  let now = T0;
  const quarantine = new MemoryQuarantine();
  const handler = createHandler(
    { store: table.store, quarantine, sweepShards: TABLE.sweepShards },
    { logger: quietLogger(), clock: () => now },
  );
  const clusterId = `orders-pg-${clusterSuffix}`;
  return {
    clusterId,
    quarantine,
    setNow: (ms: number) => {
      now = ms;
    },
    invoke: (records: ReturnType<typeof kinesisRecord>[]) =>
      handler(kinesisEvent(records), context) as Promise<KinesisStreamBatchResponse>,
  };
}

describe('ingest-heartbeat on DynamoDB Local', () => {
  it('records a primary and a caught-up replica as HEALTHY with their positions', async () => {
    const { clusterId, invoke, quarantine } = setup('basic');
    const response = await invoke([
      kinesisRecord(primaryHeartbeat({ clusterId, at: T0, seq: 1, position: lsn(5000) })),
      kinesisRecord(replicaHeartbeat({ clusterId, at: T0, seq: 1, applied: lsn(5000) })),
    ]);

    expect(response.batchItemFailures).toEqual([]);
    expect(quarantine.records).toEqual([]);
    const primary = await table.getNode(clusterId, 'pg-1');
    const replica = await table.getNode(clusterId, 'pg-2');
    expect(primary).toMatchObject({ role: 'primary', status: 'HEALTHY', position: lsn(5000), seq: 1 });
    expect(replica).toMatchObject({
      role: 'replica',
      status: 'HEALTHY',
      appliedPosition: lsn(5000),
      lagUnits: 0,
    });
    expect(replica?.deadlineAt).toBe(T0 + 30_000);
    expect(replica?.sweepShard).toMatch(/^SHARD#\d\d$/);
  });

  it('changes nothing when a batch is delivered again or a heartbeat is duplicated', async () => {
    const { clusterId, invoke } = setup('dupes');
    const hb = kinesisRecord(primaryHeartbeat({ clusterId, at: T0, seq: 7, position: lsn(100) }));
    await invoke([hb, kinesisRecord(primaryHeartbeat({ clusterId, at: T0, seq: 7, position: lsn(100) }))]);
    const first = await table.getNode(clusterId, 'pg-1');

    const counts = countCommands(table.client);
    const response = await invoke([hb]);

    expect(response.batchItemFailures).toEqual([]);
    expect(await table.getNode(clusterId, 'pg-1')).toEqual(first);
    expect(first?.version).toBe(1);
    expect(counts.get('PutItemCommand') ?? 0).toBe(0);
  });

  it('ignores a heartbeat delivered out of order (seq at or below the stored one)', async () => {
    const { clusterId, invoke, setNow } = setup('reorder');
    setNow(T0 + 10_000);
    await invoke([kinesisRecord(primaryHeartbeat({ clusterId, at: T0 + 5000, seq: 5, position: lsn(500) }))]);
    await invoke([kinesisRecord(primaryHeartbeat({ clusterId, at: T0 + 3000, seq: 3, position: lsn(300) }))]);

    const primary = await table.getNode(clusterId, 'pg-1');
    expect(primary).toMatchObject({ seq: 5, position: lsn(500), lastHeartbeatAt: T0 + 5000, version: 1 });
  });

  it('quarantines a malformed record in the middle of a batch with its reason and holds nothing else back', async () => {
    const { clusterId, invoke, quarantine } = setup('poison');
    const before = kinesisRecord(primaryHeartbeat({ clusterId, at: T0, seq: 1, position: lsn(10) }));
    const truncated = kinesisRecord('{"v":1,"clusterId":"orders-pg","nodeId":"pg-9","eng', 'pg-9');
    const wrongType = kinesisRecord({
      ...replicaHeartbeat({ clusterId, at: T0, seq: 1, applied: lsn(10) }),
      seq: 'one',
    });
    const after = kinesisRecord(
      replicaHeartbeat({ clusterId, nodeId: 'pg-3', at: T0, seq: 1, applied: lsn(10) }),
    );

    const response = await invoke([before, truncated, wrongType, after]);

    expect(response.batchItemFailures).toEqual([]);
    expect(quarantine.records.map((r) => [r.sequenceNumber, r.reason])).toEqual([
      [truncated.kinesis.sequenceNumber, expect.stringMatching(/^heartbeat is not valid JSON/)],
      [wrongType.kinesis.sequenceNumber, expect.stringMatching(/^invalid heartbeat: seq: /)],
    ]);
    expect(quarantine.records[0]).toMatchObject({
      data: truncated.kinesis.data,
      eventId: truncated.eventID,
      partitionKey: 'pg-9',
      source: 'ingest-heartbeat',
      dataTruncated: false,
    });
    expect(await table.getNode(clusterId, 'pg-1')).toMatchObject({ status: 'HEALTHY' });
    expect(await table.getNode(clusterId, 'pg-3')).toMatchObject({ status: 'HEALTHY' });
    expect(await table.getNode(clusterId, 'pg-2')).toBeUndefined();
  });

  it('reports a throttled write for retry, quarantines later poison only on the retry, and loses nothing', async () => {
    const { clusterId, invoke, quarantine } = setup('throttle');
    let throttles = 1;
    table.client.middlewareStack.add(
      (next, ctx) => async (args) => {
        const input = args.input as { Item?: { nodeId?: string; clusterId?: string } };
        if (
          ctx.commandName === 'PutItemCommand' &&
          input.Item?.clusterId === clusterId &&
          input.Item.nodeId === 'pg-2' &&
          throttles > 0
        ) {
          throttles--;
          throw Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), {
            name: 'ProvisionedThroughputExceededException',
            $metadata: { httpStatusCode: 400 },
          });
        }
        return next(args);
      },
      { step: 'initialize', name: `throttle-${clusterId}` },
    );
    const records = [
      kinesisRecord(primaryHeartbeat({ clusterId, at: T0, seq: 1, position: lsn(700) })),
      kinesisRecord(replicaHeartbeat({ clusterId, at: T0, seq: 1, applied: lsn(600) })),
      kinesisRecord('not json at all', 'pg-x'),
      kinesisRecord(replicaHeartbeat({ clusterId, at: T0 + 1000, seq: 2, applied: lsn(700) })),
    ];

    const first = await invoke(records);
    const [r0, r1, r2, r3] = records.map((r) => r.kinesis.sequenceNumber);
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: r1 }, { itemIdentifier: r3 }]);
    expect(quarantine.records).toEqual([]);
    expect(await table.getNode(clusterId, 'pg-1')).toMatchObject({ position: lsn(700) });
    expect(await table.getNode(clusterId, 'pg-2')).toBeUndefined();

    const second = await invoke(redeliveryFrom(records, r1 as string));
    expect(second.batchItemFailures).toEqual([]);
    expect(quarantine.records.map((r) => r.sequenceNumber)).toEqual([r2]);
    expect(await table.getNode(clusterId, 'pg-2')).toMatchObject({
      seq: 2,
      appliedPosition: lsn(700),
      status: 'HEALTHY',
    });
    expect(await table.getNode(clusterId, 'pg-1')).toMatchObject({ version: 1 });
    expect(r0).toBeDefined();
  });

  it('throws so the whole batch is retried when every record failed', async () => {
    const { clusterId, invoke } = setup('allfail');
    table.client.middlewareStack.add(
      (next, ctx) => async (args) => {
        const input = args.input as { ExpressionAttributeValues?: Record<string, unknown> };
        if (
          ctx.commandName === 'QueryCommand' &&
          input.ExpressionAttributeValues?.[':pk'] === `CLUSTER#${clusterId}`
        ) {
          throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
        }
        return next(args);
      },
      { step: 'initialize', name: `timeout-${clusterId}` },
    );

    await expect(
      invoke([kinesisRecord(primaryHeartbeat({ clusterId, at: T0, seq: 1, position: lsn(1) }))]),
    ).rejects.toBeInstanceOf(FullBatchFailureError);
  });

  it('writes a node once however many of its heartbeats are in the batch', async () => {
    const { clusterId, invoke } = setup('coalesce');
    const records = Array.from({ length: 50 }, (_, i) =>
      kinesisRecord(replicaHeartbeat({ clusterId, at: T0 + i * 100, seq: i + 1, applied: lsn(1000 + i) })),
    );
    const counts = countCommands(table.client);

    const response = await invoke(records);

    expect(response.batchItemFailures).toEqual([]);
    expect(counts.get('PutItemCommand')).toBe(1);
    expect(counts.get('QueryCommand')).toBe(1);
    expect(await table.getNode(clusterId, 'pg-2')).toMatchObject({
      seq: 50,
      appliedPosition: lsn(1049),
      version: 1,
    });
  });

  it('marks a replica STALLED after stallAfter when the source advances and the replica does not', async () => {
    const { clusterId, invoke, setNow } = setup('stall');
    const step = async (at: number, seq: number, primaryAt: number, applied: number) => {
      setNow(at);
      return invoke([
        kinesisRecord(primaryHeartbeat({ clusterId, at, seq, position: lsn(primaryAt) })),
        kinesisRecord(replicaHeartbeat({ clusterId, at, seq, applied: lsn(applied) })),
      ]);
    };
    await step(T0, 1, 1000, 1000);
    await step(T0 + 10_000, 2, 2000, 1500);
    expect(await table.getNode(clusterId, 'pg-2')).toMatchObject({
      status: 'HEALTHY',
      lastProgressAt: T0 + 10_000,
    });
    await step(T0 + 40_000, 3, 3000, 1500);
    expect(await table.getNode(clusterId, 'pg-2')).toMatchObject({ status: 'HEALTHY', lagUnits: 1500 });
    await step(T0 + 70_000, 4, 4000, 1500);

    const replica = await table.getNode(clusterId, 'pg-2');
    expect(replica).toMatchObject({
      status: 'STALLED',
      statusSince: T0 + 70_000,
      lagUnits: 2500,
      sourcePosition: lsn(4000),
    });
    expect(replica?.statusReason).toContain('has not advanced for 60s');
  });

  it('keeps an idle replica of an idle source HEALTHY', async () => {
    const { clusterId, invoke, setNow } = setup('idle');
    for (let i = 0; i < 10; i++) {
      const at = T0 + i * 30_000;
      setNow(at);
      await invoke([
        kinesisRecord(primaryHeartbeat({ clusterId, at, seq: i + 1, position: lsn(42) })),
        kinesisRecord(replicaHeartbeat({ clusterId, at, seq: i + 1, applied: lsn(42) })),
      ]);
    }
    expect(await table.getNode(clusterId, 'pg-2')).toMatchObject({ status: 'HEALTHY', lagUnits: 0 });
  });

  it('returns a STALLED replica to HEALTHY only after healthyStreak good heartbeats', async () => {
    const { clusterId, invoke, setNow } = setup('recover');
    const send = async (at: number, seq: number, primaryAt: number, applied: number) => {
      setNow(at);
      await invoke([
        kinesisRecord(primaryHeartbeat({ clusterId, at, seq, position: lsn(primaryAt) })),
        kinesisRecord(replicaHeartbeat({ clusterId, at, seq, applied: lsn(applied) })),
      ]);
      return (await table.getNode(clusterId, 'pg-2'))?.status;
    };
    await send(T0, 1, 100, 100);
    await send(T0 + 1000, 2, 200, 100);
    expect(await send(T0 + 61_000, 3, 300, 100)).toBe('STALLED');

    expect(await send(T0 + 71_000, 4, 400, 400)).toBe('STALLED');
    expect(await send(T0 + 81_000, 5, 500, 500)).toBe('STALLED');
    expect(await send(T0 + 91_000, 6, 600, 600)).toBe('HEALTHY');
    expect(await table.getNode(clusterId, 'pg-2')).toMatchObject({
      healthyStreak: 3,
      statusSince: T0 + 91_000,
    });
  });

  it('re-reads and re-folds when another writer changes the node between read and write', async () => {
    const { clusterId, invoke } = setup('race');
    await invoke([kinesisRecord(primaryHeartbeat({ clusterId, at: T0, seq: 1, position: lsn(1) }))]);
    let raced = false;
    table.client.middlewareStack.add(
      (next, ctx) => async (args) => {
        const input = args.input as { Item?: { clusterId?: string } };
        if (!raced && ctx.commandName === 'PutItemCommand' && input.Item?.clusterId === clusterId) {
          raced = true;
          // Another writer (the same node seen by a second observer) lands first.
          const other = await table.store.loadCluster(clusterId);
          const node = other.nodes.get('pg-1');
          if (node)
            await table.store.putNode({
              ...node,
              observers: { ...node.observers, probe: { seq: 9, observedAt: T0, reachable: true } },
              version: node.version + 1,
            });
        }
        return next(args);
      },
      { step: 'initialize', name: `race-${clusterId}` },
    );

    const response = await invoke([
      kinesisRecord(primaryHeartbeat({ clusterId, at: T0 + 1000, seq: 2, position: lsn(2) })),
    ]);

    expect(response.batchItemFailures).toEqual([]);
    const node = await table.getNode(clusterId, 'pg-1');
    expect(node).toMatchObject({ seq: 2, position: lsn(2), version: 3 });
    expect(Object.keys(node?.observers ?? {}).sort()).toEqual(['pg-1', 'probe']);
  });
});
