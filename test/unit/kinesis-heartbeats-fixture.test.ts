import { describe, expect, it } from '@jest/globals';
import type { KinesisStreamEvent } from 'aws-lambda';
import { recordBytes } from '../../functions/adapters/kinesis';
import { InvalidRecordError } from '../../functions/core/errors';
import { decodeJson, MAX_HEARTBEAT_BYTES, parseHeartbeat } from '../../functions/core/wire';
import { loadEvent } from '../fixtures/events';

const STREAM_ARN = 'arn:aws:kinesis:us-east-1:123456789012:stream/replica-sentinel-heartbeats';

const decode = (record: KinesisStreamEvent['Records'][number]) =>
  parseHeartbeat(decodeJson(recordBytes(record), MAX_HEARTBEAT_BYTES, 'heartbeat'));

function recordAt(event: KinesisStreamEvent, index: number) {
  const record = event.Records[index];
  if (record === undefined) throw new Error(`the fixture has no record ${index}`);
  return record;
}

describe('the kinesis-heartbeats fixture', () => {
  it('has the shape Lambda delivers: one shard, increasing sequence numbers, eventID shardId:sequenceNumber', () => {
    // Prepare
    const event = loadEvent<KinesisStreamEvent>('kinesis-heartbeats');

    // Act
    const sequenceNumbers = event.Records.map((record) => BigInt(record.kinesis.sequenceNumber));

    // Assess
    expect(event.Records).toHaveLength(3);
    expect([...sequenceNumbers].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(sequenceNumbers);
    expect(new Set(sequenceNumbers).size).toBe(3);
    for (const record of event.Records) {
      expect(record).toMatchObject({
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventName: 'aws:kinesis:record',
        eventID: `shardId-000000000000:${record.kinesis.sequenceNumber}`,
        awsRegion: 'us-east-1',
        eventSourceARN: STREAM_ARN,
        kinesis: { kinesisSchemaVersion: '1.0' },
      });
      expect(record.kinesis.sequenceNumber).toMatch(/^\d{56}$/);
    }
  });

  it('loads the same event whether the name has the .json extension or not', () => {
    expect(loadEvent<KinesisStreamEvent>('kinesis-heartbeats.json')).toEqual(
      loadEvent<KinesisStreamEvent>('kinesis-heartbeats'),
    );
  });

  it('decodes the first record to a primary heartbeat partitioned by its node id', () => {
    const record = recordAt(loadEvent<KinesisStreamEvent>('kinesis-heartbeats'), 0);

    const heartbeat = decode(record);

    expect(record.kinesis.partitionKey).toBe('pg-1');
    expect(heartbeat).toEqual({
      v: 1,
      clusterId: 'orders-pg',
      nodeId: 'pg-1',
      engine: 'postgresql',
      role: 'primary',
      seq: 1041,
      observedAt: '2026-11-22T23:00:01.120Z',
      observerId: 'pg-1',
      reachable: true,
      position: '0/303DD40',
      observedAtMs: Date.UTC(2026, 10, 22, 23, 0, 1, 120),
    });
  });

  it('decodes the second record to the replica heartbeat of docs/DESIGN.md', () => {
    const record = recordAt(loadEvent<KinesisStreamEvent>('kinesis-heartbeats'), 1);

    const heartbeat = decode(record);

    expect(record.kinesis.partitionKey).toBe('pg-2');
    expect(heartbeat).toEqual({
      v: 1,
      clusterId: 'orders-pg',
      nodeId: 'pg-2',
      engine: 'postgresql',
      role: 'replica',
      seq: 1042,
      observedAt: '2026-11-22T23:00:01.250Z',
      observerId: 'pg-2',
      reachable: true,
      replication: {
        sourceNodeId: 'pg-1',
        linkUp: true,
        receivedPosition: '0/303DF70',
        appliedPosition: '0/3033448',
        lagSeconds: 7.2,
        paused: false,
      },
      observedAtMs: Date.UTC(2026, 10, 22, 23, 0, 1, 250),
    });
  });

  it('rejects the third record, a heartbeat cut off mid-write, as invalid JSON', () => {
    const record = recordAt(loadEvent<KinesisStreamEvent>('kinesis-heartbeats'), 2);

    const act = () => decode(record);

    expect(act).toThrow(InvalidRecordError);
    expect(act).toThrow(/^heartbeat is not valid JSON: /);
    expect(recordBytes(record).toString('utf8')).toBe(
      '{"v":1,"clusterId":"orders-pg","nodeId":"pg-3","engine":"postgresql","',
    );
  });

  it('refuses a fixture name that is not a file of the fixtures folder', () => {
    expect(() => loadEvent('../unit/wire.test.ts')).toThrow(
      'fixture name "../unit/wire.test.ts" must be a file name in test/fixtures/events',
    );
  });
});
