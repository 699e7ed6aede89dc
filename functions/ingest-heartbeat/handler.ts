import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { CoalescingKinesisProcessor } from '../adapters/coalescing-processor';
import { type IngestDeps, ingestHeartbeats } from './ingest';

/**
 * The ingest-heartbeat handler: a Kinesis batch in, a partial batch response out. Adapters come in
 * `deps` (index.ts builds the AWS ones once per container; tests and local mode pass their own);
 * `clock` returns now in epoch ms.
 */
export function createHandler(
  deps: Omit<IngestDeps, 'logger'>,
  options: { logger?: Logger; clock?: () => number } = {},
) {
  const logger = options.logger ?? new Logger({ serviceName: 'ingest-heartbeat' });
  const clock = options.clock ?? Date.now;
  const processor = new CoalescingKinesisProcessor(async (records) => {
    const report = await ingestHeartbeats(records, { ...deps, logger }, clock());
    logger.info('heartbeat batch', {
      records: report.records,
      applied: report.applied,
      stale: report.stale,
      quarantined: report.quarantined,
      writes: report.writes,
      failed: report.failures.size,
    });
    return report.failures;
  });
  return middy(
    async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => processor.run(event),
  ).use(injectLambdaContext(logger));
}
