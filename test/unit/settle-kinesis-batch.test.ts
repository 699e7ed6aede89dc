import { describe, expect, it } from '@jest/globals';
import type { KinesisStreamRecord } from 'aws-lambda';
import { TransientError } from '../../functions/adapters/errors';
import { quarantineEntry, recordBytes, settleKinesisBatch } from '../../functions/adapters/kinesis';
import type { Log } from '../../functions/adapters/log';
import {
  MAX_QUARANTINED_DATA,
  type Quarantine,
  type QuarantinedRecord,
  type QuarantineFailure,
  truncateData,
} from '../../functions/adapters/quarantine';
import { MemoryQuarantine } from '../../local/memory-quarantine';
import { kinesisRecord } from '../support/kinesis';

const NOW = Date.UTC(2026, 10, 22, 23, 0, 5, 0);
const SOURCE = 'ingest-heartbeat';

/** A Log that keeps its warnings. */
function recordingLog(): Log & { warnings: [string, ...Record<string, unknown>[]][] } {
  const warnings: [string, ...Record<string, unknown>[]][] = [];
  return {
    warnings,
    debug: () => undefined,
    info: () => undefined,
    warn: (message, ...details) => {
      warnings.push([message, ...details]);
    },
  };
}

/** A quarantine that accepts records until `failAt` (an index into one send), then fails as SQS would. */
class FailingQuarantine implements Quarantine {
  readonly accepted: QuarantinedRecord[] = [];
  readonly calls: number[] = [];

  constructor(
    private readonly failAt: number,
    private readonly cause = 'InternalError: We encountered an internal error. Please try again.',
  ) {}

  async send(records: readonly QuarantinedRecord[]): Promise<QuarantineFailure | undefined> {
    this.calls.push(records.length);
    if (this.failAt >= records.length) {
      this.accepted.push(...records);
      return undefined;
    }
    this.accepted.push(...records.slice(0, this.failAt));
    return { index: this.failAt, cause: this.cause };
  }
}

function batch(size: number): KinesisStreamRecord[] {
  return Array.from({ length: size }, (_, i) => kinesisRecord({ nodeId: `pg-${i}`, seq: i }));
}

function at(records: KinesisStreamRecord[], index: number): KinesisStreamRecord {
  const record = records[index];
  if (record === undefined) throw new Error(`no record ${index}`);
  return record;
}

const reason = (index: number) => `invalid heartbeat: seq: bad value in record ${index}`;

describe('settleKinesisBatch', () => {
  it('quarantines every invalid record, in batch order, when nothing failed', async () => {
    // Prepare
    const records = batch(6);
    const quarantine = new MemoryQuarantine();
    const invalid = [5, 0, 2].map((index) => ({ index, reason: reason(index) }));

    // Act
    const settlement = await settleKinesisBatch(records, invalid, new Map(), {
      quarantine,
      log: recordingLog(),
      source: SOURCE,
      now: NOW,
    });

    // Assess
    expect(quarantine.records.map((entry) => entry.sequenceNumber)).toEqual([
      at(records, 0).kinesis.sequenceNumber,
      at(records, 2).kinesis.sequenceNumber,
      at(records, 5).kinesis.sequenceNumber,
    ]);
    expect(quarantine.records.map((entry) => entry.reason)).toEqual([reason(0), reason(2), reason(5)]);
    expect(settlement).toEqual({ failures: new Map(), quarantined: 3 });
  });

  it('keeps the raw data and where the record came from', async () => {
    const record = kinesisRecord('{"v":1,"nodeId":"pg-1",', 'pg-1');
    const quarantine = new MemoryQuarantine();

    await settleKinesisBatch([record], [{ index: 0, reason: 'heartbeat is not valid JSON' }], new Map(), {
      quarantine,
      log: recordingLog(),
      source: SOURCE,
      now: NOW,
    });

    expect(quarantine.records).toEqual([
      {
        reason: 'heartbeat is not valid JSON',
        source: SOURCE,
        eventSourceARN: 'arn:aws:kinesis:us-east-1:123456789012:stream/replica-sentinel-heartbeats',
        eventId: `shardId-000000000000:${record.kinesis.sequenceNumber}`,
        sequenceNumber: record.kinesis.sequenceNumber,
        partitionKey: 'pg-1',
        approximateArrivalTimestamp: record.kinesis.approximateArrivalTimestamp,
        data: record.kinesis.data,
        dataBytes: 23,
        dataTruncated: false,
        quarantinedAt: '2026-11-22T23:00:05.000Z',
      },
    ]);
    expect(Buffer.from(quarantine.records[0]?.data ?? '', 'base64').toString('utf8')).toBe(
      '{"v":1,"nodeId":"pg-1",',
    );
  });

  it('quarantines only the invalid records before the earliest failure; the later ones come again', async () => {
    const records = batch(8);
    const quarantine = new MemoryQuarantine();
    const invalid = [6, 1, 4, 2].map((index) => ({ index, reason: reason(index) }));
    const busy = new TransientError('ConditionalCheckFailed retries exhausted');
    const failedIndexes = new Map<number, Error>([
      [5, new TransientError('throttled')],
      [3, busy],
    ]);

    const settlement = await settleKinesisBatch(records, invalid, failedIndexes, {
      quarantine,
      log: recordingLog(),
      source: SOURCE,
      now: NOW,
    });

    expect(quarantine.records.map((entry) => entry.reason)).toEqual([reason(1), reason(2)]);
    expect(settlement.quarantined).toBe(2);
    expect([...settlement.failures.keys()]).toEqual([
      at(records, 3).kinesis.sequenceNumber,
      at(records, 5).kinesis.sequenceNumber,
    ]);
    expect(settlement.failures.get(at(records, 3).kinesis.sequenceNumber)).toBe(busy);
  });

  it('quarantines nothing when the first record failed', async () => {
    const records = batch(3);
    const quarantine = new MemoryQuarantine();

    const settlement = await settleKinesisBatch(
      records,
      [{ index: 2, reason: reason(2) }],
      new Map([[0, new TransientError('throttled')]]),
      { quarantine, log: recordingLog(), source: SOURCE, now: NOW },
    );

    expect(quarantine.records).toEqual([]);
    expect(settlement.quarantined).toBe(0);
    expect([...settlement.failures.keys()]).toEqual([at(records, 0).kinesis.sequenceNumber]);
  });

  it('logs one warning per quarantined record with its sequence number and reason', async () => {
    const records = batch(3);
    const log = recordingLog();

    await settleKinesisBatch(
      records,
      [0, 2].map((index) => ({ index, reason: reason(index) })),
      new Map(),
      { quarantine: new MemoryQuarantine(), log, source: SOURCE, now: NOW },
    );

    expect(log.warnings).toEqual([
      ['record quarantined', { sequenceNumber: at(records, 0).kinesis.sequenceNumber, reason: reason(0) }],
      ['record quarantined', { sequenceNumber: at(records, 2).kinesis.sequenceNumber, reason: reason(2) }],
    ]);
  });

  it('reports the record the quarantine failed on as a transient failure, and stops there', async () => {
    const records = batch(8);
    const invalid = [0, 2, 4, 6].map((index) => ({ index, reason: reason(index) }));
    const quarantine = new FailingQuarantine(2);
    const log = recordingLog();

    const settlement = await settleKinesisBatch(records, invalid, new Map(), {
      quarantine,
      log,
      source: SOURCE,
      now: NOW,
    });

    expect(quarantine.accepted.map((entry) => entry.reason)).toEqual([reason(0), reason(2)]);
    expect(settlement.quarantined).toBe(2);
    expect([...settlement.failures.keys()]).toEqual([at(records, 4).kinesis.sequenceNumber]);
    const failure = settlement.failures.get(at(records, 4).kinesis.sequenceNumber);
    expect(failure).toBeInstanceOf(TransientError);
    expect(failure?.message).toBe(
      'quarantine unavailable: InternalError: We encountered an internal error. Please try again.',
    );
    expect(log.warnings.map(([, details]) => details?.sequenceNumber)).toEqual([
      at(records, 0).kinesis.sequenceNumber,
      at(records, 2).kinesis.sequenceNumber,
    ]);
  });

  it('reports a quarantine failure on the first entry together with the failures already known', async () => {
    const records = batch(6);
    const invalid = [1, 3].map((index) => ({ index, reason: reason(index) }));
    const quarantine = new FailingQuarantine(0, 'QueueDoesNotExist: The specified queue does not exist.');
    const throttled = new TransientError('throttled');

    const settlement = await settleKinesisBatch(records, invalid, new Map([[4, throttled]]), {
      quarantine,
      log: recordingLog(),
      source: SOURCE,
      now: NOW,
    });

    expect(quarantine.accepted).toEqual([]);
    expect(settlement.quarantined).toBe(0);
    expect([...settlement.failures.entries()]).toEqual([
      [
        at(records, 1).kinesis.sequenceNumber,
        new TransientError('quarantine unavailable: QueueDoesNotExist: The specified queue does not exist.'),
      ],
      [at(records, 4).kinesis.sequenceNumber, throttled],
    ]);
  });

  it('sends the quarantine one ordered list per batch', async () => {
    const records = batch(4);
    const quarantine = new FailingQuarantine(Number.POSITIVE_INFINITY);

    await settleKinesisBatch(
      records,
      [3, 0, 1].map((index) => ({ index, reason: reason(index) })),
      new Map(),
      { quarantine, log: recordingLog(), source: SOURCE, now: NOW },
    );

    expect(quarantine.calls).toEqual([3]);
    expect(quarantine.accepted.map((entry) => entry.reason)).toEqual([reason(0), reason(1), reason(3)]);
  });

  it('truncates the data of a huge record and says how large it was', async () => {
    const huge = kinesisRecord(new Uint8Array(150_003).fill(0x7b), 'pg-9');
    const quarantine = new MemoryQuarantine();

    await settleKinesisBatch([huge], [{ index: 0, reason: 'heartbeat is 150003 bytes' }], new Map(), {
      quarantine,
      log: recordingLog(),
      source: SOURCE,
      now: NOW,
    });

    const entry = quarantine.records[0];
    expect(huge.kinesis.data).toHaveLength(200_004);
    expect(entry?.dataTruncated).toBe(true);
    expect(entry?.dataBytes).toBe(150_003);
    expect(entry?.data).toBe(huge.kinesis.data.slice(0, MAX_QUARANTINED_DATA));
  });
});

describe('truncateData', () => {
  it('keeps data of exactly MAX_QUARANTINED_DATA characters whole', () => {
    const data = Buffer.alloc(150_000, 1).toString('base64');

    const result = truncateData(data);

    expect(data).toHaveLength(MAX_QUARANTINED_DATA);
    expect(result).toEqual({ data, dataBytes: 150_000, dataTruncated: false });
  });

  it('cuts data over MAX_QUARANTINED_DATA characters and keeps the original byte count', () => {
    const data = Buffer.alloc(150_003, 1).toString('base64');

    const result = truncateData(data);

    expect(result).toEqual({ data: data.slice(0, 200_000), dataBytes: 150_003, dataTruncated: true });
  });

  it('counts the bytes of empty data as zero', () => {
    expect(truncateData('')).toEqual({ data: '', dataBytes: 0, dataTruncated: false });
  });
});

describe('quarantineEntry', () => {
  it('decodes back to the exact bytes the producer sent', () => {
    const payload = new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x00, 0xff]);
    const record = kinesisRecord(payload, 'pg-1');

    const entry = quarantineEntry(record, 'heartbeat is not valid JSON', SOURCE, NOW);

    expect(new Uint8Array(Buffer.from(entry.data, 'base64'))).toEqual(payload);
    expect(new Uint8Array(recordBytes(record))).toEqual(payload);
    expect(entry.dataBytes).toBe(6);
  });
});
