import type { KinesisStreamRecord } from 'aws-lambda';
import { TransientError } from './errors';
import type { Log } from './log';
import type { Quarantine, QuarantinedRecord } from './quarantine';
import { truncateData } from './quarantine';

/** The raw bytes of a Kinesis record as Lambda delivers it (base64 in `kinesis.data`). */
export function recordBytes(record: KinesisStreamRecord): Buffer {
  return Buffer.from(record.kinesis.data, 'base64');
}

/** A quarantine entry for a Kinesis record, keeping its raw data and where it came from. */
export function quarantineEntry(
  record: KinesisStreamRecord,
  reason: string,
  source: string,
  now: number,
): QuarantinedRecord {
  return {
    reason,
    source,
    eventSourceARN: record.eventSourceARN,
    eventId: record.eventID,
    sequenceNumber: record.kinesis.sequenceNumber,
    partitionKey: record.kinesis.partitionKey,
    approximateArrivalTimestamp: record.kinesis.approximateArrivalTimestamp,
    ...truncateData(record.kinesis.data),
    quarantinedAt: new Date(now).toISOString(),
  };
}

export interface InvalidRecord {
  /** Position of the record in the batch. */
  readonly index: number;
  readonly reason: string;
}

export interface Settlement {
  /** Batch item failures to report, by sequence number. */
  readonly failures: Map<string, Error>;
  readonly quarantined: number;
}

/**
 * Ends a Kinesis batch: quarantines the invalid records and turns failed indexes into the failures to
 * report. Lambda retries a Kinesis shard from the earliest reported record, so records after that point
 * come again: an invalid record past it is quarantined on that later delivery, not now. If the quarantine
 * itself fails, the record it failed on becomes a reported (transient) failure. When SQS fails one entry
 * of a SendMessageBatch but accepts later ones, those later ones are sent again on the redelivery:
 * quarantine is at least once, and consumers deduplicate on `eventId` (a message attribute).
 */
export async function settleKinesisBatch(
  records: readonly KinesisStreamRecord[],
  invalid: readonly InvalidRecord[],
  failedBefore: ReadonlyMap<number, Error>,
  deps: { quarantine: Quarantine; log: Log; source: string; now: number },
): Promise<Settlement> {
  const failedIndexes = new Map(failedBefore);
  const checkpoint = failedIndexes.size > 0 ? Math.min(...failedIndexes.keys()) : records.length;
  const toQuarantine = invalid.filter((entry) => entry.index < checkpoint).sort((a, b) => a.index - b.index);
  const entries = toQuarantine.map(({ index, reason }) => {
    const record = records[index];
    if (!record) throw new RangeError(`invalid record index ${index} in a batch of ${records.length}`);
    return quarantineEntry(record, reason, deps.source, deps.now);
  });
  const failure = await deps.quarantine.send(entries);
  const quarantined = failure ? failure.index : entries.length;
  const failedEntry = failure ? toQuarantine[failure.index] : undefined;
  if (failure && failedEntry) {
    failedIndexes.set(failedEntry.index, new TransientError(`quarantine unavailable: ${failure.cause}`));
  }
  for (const entry of entries.slice(0, quarantined)) {
    deps.log.warn('record quarantined', { sequenceNumber: entry.sequenceNumber, reason: entry.reason });
  }
  const failures = new Map<string, Error>();
  for (const [index, error] of [...failedIndexes].sort((a, b) => a[0] - b[0])) {
    const record = records[index];
    if (record) failures.set(record.kinesis.sequenceNumber, error);
  }
  return { failures, quarantined };
}
