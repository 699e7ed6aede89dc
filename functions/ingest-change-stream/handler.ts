import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { CoalescingKinesisProcessor } from '../adapters/coalescing-processor';
import { type Metrics, noMetrics } from '../adapters/metrics';
import { publishMetrics } from '../adapters/metrics-middleware';
import { type ChangeStreamDeps, ingestChangeEvents } from './ingest';

/** The ingest-change-stream handler: a Kinesis batch of change events in, a partial batch response out. */
export function createHandler(
  deps: Omit<ChangeStreamDeps, 'logger'>,
  options: { logger?: Logger; metrics?: Metrics; clock?: () => number } = {},
) {
  const logger = options.logger ?? new Logger({ serviceName: 'ingest-change-stream' });
  const metrics = options.metrics ?? noMetrics;
  const clock = options.clock ?? Date.now;
  const processor = new CoalescingKinesisProcessor(async (records) => {
    const report = await ingestChangeEvents(records, { ...deps, logger }, clock());
    logger.info('change event batch', {
      records: report.records,
      headsMoved: report.headsMoved,
      quarantined: report.quarantined,
      failed: report.failures.size,
    });
    metrics.add('ChangeEventsIngested', report.records - report.quarantined - report.failures.size);
    metrics.add('ChangeEventsRejected', report.quarantined);
    return report.failures;
  });
  return middy(async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => processor.run(event))
    .use(injectLambdaContext(logger))
    .use(publishMetrics(metrics));
}
