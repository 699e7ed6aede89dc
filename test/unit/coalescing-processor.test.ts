import { FullBatchFailureError } from '@aws-lambda-powertools/batch';
import { describe, expect, it, jest } from '@jest/globals';
import type { KinesisStreamRecord } from 'aws-lambda';
import {
  CoalescingKinesisProcessor,
  type KinesisBatchHandler,
} from '../../functions/adapters/coalescing-processor';
import { TransientError } from '../../functions/adapters/errors';
import { kinesisEvent, kinesisRecord } from '../support/kinesis';

function batch(size: number): KinesisStreamRecord[] {
  return Array.from({ length: size }, (_, i) => kinesisRecord({ nodeId: `pg-${i}`, seq: i }));
}

const seq = (records: KinesisStreamRecord[], index: number): string => {
  const record = records[index];
  if (record === undefined) throw new Error(`no record ${index}`);
  return record.kinesis.sequenceNumber;
};

/** A batch handler that fails the records at the given indexes. */
function failing(indexes: number[]): KinesisBatchHandler {
  return async (records) =>
    new Map(
      indexes.map((i) => [seq([...records], i), new TransientError(`store busy for record ${i}`)] as const),
    );
}

const succeeding: KinesisBatchHandler = async () => new Map();

describe('CoalescingKinesisProcessor.run', () => {
  it('hands the whole batch, in order, to the batch handler in one call', async () => {
    // Prepare
    const records = batch(4);
    const handler = jest.fn<KinesisBatchHandler>(async () => new Map());
    const processor = new CoalescingKinesisProcessor(handler);

    // Act
    await processor.run(kinesisEvent(records));

    // Assess
    expect(handler).toHaveBeenCalledTimes(1);
    expect(handler.mock.calls[0]?.[0]).toEqual(records);
  });

  it('reports exactly the records the handler failed, by sequence number, in batch order', async () => {
    const records = batch(5);
    const processor = new CoalescingKinesisProcessor(failing([3, 1]));

    const response = await processor.run(kinesisEvent(records));

    expect(response).toEqual({
      batchItemFailures: [{ itemIdentifier: seq(records, 1) }, { itemIdentifier: seq(records, 3) }],
    });
  });

  it('reports no failures when the handler failed nothing', async () => {
    const processor = new CoalescingKinesisProcessor(succeeding);

    const response = await processor.run(kinesisEvent(batch(3)));

    expect(response).toEqual({ batchItemFailures: [] });
  });

  it('ignores failures for sequence numbers that are not in the batch', async () => {
    const processor = new CoalescingKinesisProcessor(
      async () => new Map([['12345', new TransientError('x')]]),
    );

    const response = await processor.run(kinesisEvent(batch(2)));

    expect(response).toEqual({ batchItemFailures: [] });
  });

  it('rejects with FullBatchFailureError, carrying every error, when every record failed', async () => {
    const processor = new CoalescingKinesisProcessor(failing([0, 1, 2]));

    const run = processor.run(kinesisEvent(batch(3)));

    await expect(run).rejects.toBeInstanceOf(FullBatchFailureError);
    await expect(run).rejects.toMatchObject({
      message: 'All records failed processing. See individual errors below.',
      recordErrors: [
        new TransientError('store busy for record 0'),
        new TransientError('store busy for record 1'),
        new TransientError('store busy for record 2'),
      ],
    });
  });

  it('lets an error thrown by the batch handler through, so the whole batch is retried', async () => {
    const processor = new CoalescingKinesisProcessor(async () => {
      throw new Error('DynamoDB unreachable');
    });

    await expect(processor.run(kinesisEvent(batch(2)))).rejects.toThrow('DynamoDB unreachable');
  });

  it('does not carry failures of one invocation into the next', async () => {
    const first = batch(3);
    const second = batch(3);
    let failNext = true;
    const processor = new CoalescingKinesisProcessor(async (records) => {
      const failures = failNext ? failing([0])(records) : succeeding(records);
      failNext = false;
      return failures;
    });

    const firstResponse = await processor.run(kinesisEvent(first));
    const secondResponse = await processor.run(kinesisEvent(second));

    expect(firstResponse).toEqual({ batchItemFailures: [{ itemIdentifier: seq(first, 0) }] });
    expect(secondResponse).toEqual({ batchItemFailures: [] });
  });

  it('reports the right records after an invocation that failed entirely', async () => {
    const first = batch(2);
    const second = batch(4);
    const failuresByCall = [[0, 1], [2]];
    let call = 0;
    const processor = new CoalescingKinesisProcessor(async (records) =>
      failing(failuresByCall[call++] ?? [])(records),
    );

    await expect(processor.run(kinesisEvent(first))).rejects.toBeInstanceOf(FullBatchFailureError);
    const response = await processor.run(kinesisEvent(second));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: seq(second, 2) }] });
  });

  it('refuses to process records one by one', () => {
    const processor = new CoalescingKinesisProcessor(succeeding);

    expect(() => processor.processRecord()).toThrow(
      'CoalescingKinesisProcessor handles whole batches; call process()',
    );
    expect(() => processor.processRecordSync()).toThrow(
      'CoalescingKinesisProcessor handles whole batches; call process()',
    );
  });
});
