import { afterAll, beforeAll } from '@jest/globals';
import type { Quarantine, QuarantinedRecord, QuarantineFailure } from '../../functions/adapters/quarantine';
import { StreamPoller } from '../../local/stream-poller';
import { createTestTable, localEndpoint, type TestTable } from '../support/dynamodb';
import { recordFigures } from './figures';

/** Where a stream event source mapping sends what still fails after its retries (its on-failure destination). */
export interface StreamFailure<R> {
  readonly records: readonly R[];
  readonly reason: string;
}

export interface StreamMappingOptions<R> {
  /** The record's identifier in a batchItemFailures answer (Kinesis / DynamoDB sequence number). */
  readonly idOf: (record: R) => string;
  /** `retryAttempts` of the event source mapping (infra/). */
  readonly retryAttempts: number;
  /** `bisectBatchOnError`: a batch whose invocation threw is split in two and each half retried. */
  readonly bisect: boolean;
  /** The on-failure destination. */
  readonly failures: StreamFailure<R>[];
}

export interface StreamMappingStats {
  invocations: number;
  /** The most invocations one batch needed before it was done (or dead-lettered). */
  maxInvocationsPerBatch: number;
  partialFailures: number;
  thrown: number;
}

/**
 * Lambda's stream event source mapping (Kinesis, DynamoDB Streams) for one batch, as AWS documents it for
 * ReportBatchItemFailures: an answer naming failed records checkpoints before the lowest of them and
 * retries from there (the records after it come again); an invocation that throws is retried whole, or in
 * two halves when bisectBatchOnError is on; past retryAttempts the records go to the on-failure destination.
 */
export async function deliverStreamBatch<R>(
  records: readonly R[],
  invoke: (records: R[]) => Promise<{ batchItemFailures: { itemIdentifier: string }[] } | undefined>,
  options: StreamMappingOptions<R>,
  stats: StreamMappingStats,
): Promise<void> {
  const queue: { records: R[]; retries: number }[] = [{ records: [...records], retries: 0 }];
  let invocations = 0;
  while (queue.length > 0) {
    const batch = queue.shift() as { records: R[]; retries: number };
    invocations++;
    stats.invocations++;
    if (invocations > 10_000)
      throw new Error('a stream batch was retried 10,000 times: the pipeline is stuck');
    let failedFrom: number | undefined;
    let threw = false;
    let reason = '';
    try {
      const response = await invoke(batch.records);
      const failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
      const index = batch.records.findIndex((record) => failed.has(options.idOf(record)));
      if (failed.size > 0 && index < 0) throw new Error('batchItemFailures named a record not in the batch');
      if (index >= 0) {
        stats.partialFailures++;
        failedFrom = index;
        reason = `batch item failure at ${options.idOf(batch.records[index] as R)}`;
      }
    } catch (error) {
      stats.thrown++;
      threw = true;
      failedFrom = 0;
      reason = `${(error as Error).name}: ${(error as Error).message}`;
    }
    if (failedFrom === undefined) continue;
    const rest = batch.records.slice(failedFrom);
    if (batch.retries >= options.retryAttempts) {
      options.failures.push({
        records: rest,
        reason: `RetryAttemptsExhausted (${batch.retries} retries): ${reason}`,
      });
      continue;
    }
    if (threw && options.bisect && rest.length > 1) {
      const half = Math.ceil(rest.length / 2);
      queue.unshift(
        { records: rest.slice(0, half), retries: batch.retries + 1 },
        { records: rest.slice(half), retries: batch.retries + 1 },
      );
    } else {
      queue.unshift({ records: rest, retries: batch.retries + 1 });
    }
  }
  stats.maxInvocationsPerBatch = Math.max(stats.maxInvocationsPerBatch, invocations);
}

export function newStats(): StreamMappingStats {
  return { invocations: 0, maxInvocationsPerBatch: 0, partialFailures: 0, thrown: 0 };
}

/**
 * The quarantine queue with SQS-like trouble: on a share of calls the batch send stops at a random entry
 * (the ones before it were sent), as SendMessageBatch does when it fails part of a batch.
 */
export class FlakyQuarantine implements Quarantine {
  readonly records: QuarantinedRecord[] = [];
  failures = 0;

  constructor(
    private readonly rate: number,
    private readonly random: () => number,
  ) {}

  async send(records: readonly QuarantinedRecord[]): Promise<QuarantineFailure | undefined> {
    if (records.length > 0 && this.random() < this.rate) {
      const index = Math.floor(this.random() * records.length);
      this.records.push(...records.slice(0, index));
      this.failures++;
      return { index, cause: 'ThrottlingException: Rate exceeded' };
    }
    this.records.push(...records);
    return undefined;
  }
}

/**
 * The per-file setup of the suite: a fresh table on the run's DynamoDB Local with its stream polled from
 * the start, dropped afterwards, and the file's figures (filled in by its tests) recorded for the summary.
 */
export function streamTableFixture(name: string) {
  const fixture = {
    table: undefined as unknown as TestTable,
    poller: undefined as unknown as StreamPoller,
    figures: {
      records: 0,
      lost: 0,
      duplicatedEffects: 0,
      malformed: 0,
      malformedCaught: 0,
      throttlesSurvived: 0,
    },
  };
  beforeAll(async () => {
    fixture.table = await createTestTable(name);
    fixture.poller = new StreamPoller(localEndpoint(), fixture.table.tableName);
    await fixture.poller.start('TRIM_HORIZON');
  });
  afterAll(async () => {
    fixture.poller.close();
    await fixture.table.drop();
    recordFigures(name, fixture.figures);
  });
  return fixture;
}
