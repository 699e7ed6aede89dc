import { BasePartialBatchProcessor, EventType } from '@aws-lambda-powertools/batch';
import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';

/**
 * Handles a whole Kinesis batch at once and says which records failed transiently (by sequence number).
 * Records it does not name succeeded, including records it quarantined: a poison record must never be
 * reported, or Lambda would retry it and everything after it forever.
 */
export type KinesisBatchHandler = (
  records: readonly KinesisStreamRecord[],
) => Promise<ReadonlyMap<string, Error>>;

/**
 * Powertools' partial batch processor, for handlers that coalesce a batch (many heartbeats of one node
 * become one write) instead of handling records one by one. Powertools still builds the response:
 * `batchItemFailures` with the failed sequence numbers, and a FullBatchFailureError when every record
 * failed, so the whole batch is retried (with bisection) rather than half-reported.
 */
export class CoalescingKinesisProcessor extends BasePartialBatchProcessor {
  constructor(private readonly batchHandler: KinesisBatchHandler) {
    super(EventType.KinesisDataStreams);
  }

  override async process() {
    this.prepare();
    const records = this.records as KinesisStreamRecord[];
    const failures = await this.batchHandler(records);
    const results = records.map((record) => {
      const error = failures.get(record.kinesis.sequenceNumber);
      return error ? this.failureHandler(record, error) : this.successHandler(record, 'processed');
    });
    this.clean();
    return results;
  }

  processRecord(): never {
    throw new Error('CoalescingKinesisProcessor handles whole batches; call process()');
  }

  processRecordSync(): never {
    throw new Error('CoalescingKinesisProcessor handles whole batches; call process()');
  }

  /** Runs the batch handler over a Kinesis event and returns the partial batch response. */
  async run(event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> {
    this.register(event.Records, () => {
      throw new Error('unused: records are handled as a batch');
    });
    await this.process();
    return this.response();
  }
}
