import { describe, expect, it } from '@jest/globals';
import type { KinesisStreamBatchResponse } from 'aws-lambda';
import { TABLE } from '../../functions/adapters/table-definition';
import { createHandler as createChangeHandler } from '../../functions/ingest-change-stream/handler';
import { createHandler as createHeartbeatHandler } from '../../functions/ingest-heartbeat/handler';
import { MemoryQuarantine } from '../../local/memory-quarantine';
import { countCommands, useTestTable } from '../support/dynamodb';
import { iso, lsn, replicaHeartbeat, T0 } from '../support/heartbeats';
import { kinesisEvent, kinesisRecord } from '../support/kinesis';
import { lambdaContext, silentLogger } from '../support/lambda';

const context = lambdaContext('ingest-change-stream');

const table = useTestTable('changes');

/** A Debezium PostgreSQL change event as Debezium Server's Kinesis sink writes it (JSON, schemas enabled). */
function debeziumPostgres(name: string, lsnValue: number, tsMs: number) {
  return {
    schema: { type: 'struct', name: `${name}.public.orders.Envelope`, optional: false, fields: [] },
    payload: {
      before: null,
      after: { id: lsnValue, status: 'paid' },
      source: {
        version: '3.0.0.Final',
        connector: 'postgresql',
        name,
        ts_ms: tsMs,
        snapshot: 'false',
        db: 'orders',
        sequence: `["${lsnValue - 8}","${lsnValue}"]`,
        schema: 'public',
        table: 'orders',
        txId: 771,
        lsn: lsnValue,
        xmin: null,
      },
      op: 'u',
      ts_ms: tsMs + 12,
      transaction: null,
    },
  };
}

function setup() {
  let now = T0;
  const quarantine = new MemoryQuarantine();
  const changes = createChangeHandler(
    { store: table.store, quarantine },
    { logger: silentLogger('ingest-change-stream'), clock: () => now },
  );
  const heartbeats = createHeartbeatHandler(
    { store: table.store, quarantine, sweepShards: TABLE.sweepShards },
    { logger: silentLogger('ingest-heartbeat'), clock: () => now },
  );
  return {
    quarantine,
    setNow: (ms: number) => {
      now = ms;
    },
    sendChanges: (payloads: object[]) =>
      changes(
        kinesisEvent(payloads.map((p) => kinesisRecord(p, 'orders'))),
        context,
      ) as Promise<KinesisStreamBatchResponse>,
    sendHeartbeats: (payloads: object[]) =>
      heartbeats(
        kinesisEvent(payloads.map((p) => kinesisRecord(p))),
        context,
      ) as Promise<KinesisStreamBatchResponse>,
  };
}

describe('ingest-change-stream on DynamoDB Local', () => {
  it('moves the source head forward with Debezium events, one write per cluster stream, never backwards', async () => {
    const { sendChanges } = setup();
    const counts = countCommands(table.client);
    const response = await sendChanges([
      debeziumPostgres('orders-a', 24_023_128, T0),
      debeziumPostgres('orders-a', 24_023_400, T0 + 10),
      debeziumPostgres('orders-a', 24_023_200, T0 + 5),
    ]);
    expect(response.batchItemFailures).toEqual([]);
    expect(counts.get('PutItemCommand')).toBe(1);
    const [head] = (await table.clusterItems('orders-a')).filter((item) => item.SK === 'SOURCE#debezium');
    expect(head).toMatchObject({
      engine: 'postgresql',
      position: lsn(24_023_400),
      committedAt: T0 + 10,
      version: 1,
    });

    await sendChanges([debeziumPostgres('orders-a', 24_000_000, T0 + 20)]);
    const [after] = (await table.clusterItems('orders-a')).filter((item) => item.SK === 'SOURCE#debezium');
    expect(after).toMatchObject({ position: lsn(24_023_400), version: 1 });
  });

  it('accepts our own envelope and quarantines what is neither', async () => {
    const { sendChanges, quarantine } = setup();
    const response = await sendChanges([
      {
        v: 1,
        clusterId: 'orders-b',
        engine: 'mysql',
        position: 'mysql-bin.000003:1234',
        committedAt: iso(T0),
      },
      { v: 1, clusterId: 'orders-b', engine: 'mysql', position: 'not a position', committedAt: iso(T0) },
      { hello: 'world' },
    ]);
    expect(response.batchItemFailures).toEqual([]);
    expect(quarantine.records.map((r) => r.reason)).toEqual([
      expect.stringMatching(/^invalid change event: position: /),
      expect.stringMatching(/^invalid change event: neither our envelope/),
    ]);
    const [head] = (await table.clusterItems('orders-b')).filter((item) => item.SK === 'SOURCE#default');
    expect(head).toMatchObject({ position: 'mysql-bin.000003:1234', committedAt: T0 });
  });

  it('marks a replica STALLED against a source head that only the change stream reports', async () => {
    const { sendChanges, sendHeartbeats, setNow } = setup();
    const clusterId = 'orders-c';
    for (let i = 0; i <= 7; i++) {
      const at = T0 + i * 10_000;
      setNow(at);
      await sendChanges([debeziumPostgres(clusterId, 1_000_000 + i * 4096, at)]);
      await sendHeartbeats([replicaHeartbeat({ clusterId, at, seq: i + 1, applied: lsn(1_000_000) })]);
    }
    const replica = await table.getNode(clusterId, 'pg-2');
    expect(replica).toMatchObject({
      status: 'STALLED',
      lagUnits: 7 * 4096,
      sourcePosition: lsn(1_000_000 + 7 * 4096),
    });
  });
});
