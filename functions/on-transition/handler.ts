import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { handleTransition, type TransitionDeps } from './transition';

/**
 * The on-transition handler: node-state table stream records (filtered to status changes) in order,
 * one at a time; a failed record is reported and Lambda retries from it (the ones after it come again,
 * which the incident's node-version check makes harmless).
 */
export function createHandler(deps: Omit<TransitionDeps, 'logger'>, options: { logger?: Logger } = {}) {
  const logger = options.logger ?? new Logger({ serviceName: 'on-transition' });
  const processor = new BatchProcessor(EventType.DynamoDBStreams);
  const recordHandler = async (record: DynamoDBRecord) => handleTransition(record, { ...deps, logger });
  return middy(
    async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> =>
      processPartialResponse(event, recordHandler, processor, { processInParallel: false }),
  ).use(injectLambdaContext(logger));
}
