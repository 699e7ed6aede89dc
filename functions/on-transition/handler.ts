import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { type Metrics, noMetrics } from '../adapters/metrics';
import { publishMetrics } from '../adapters/metrics-middleware';
import { handleTransition, type TransitionDeps, transitionOf } from './transition';

/**
 * The on-transition handler: node-state table stream records (filtered to status changes) in order,
 * one at a time; a failed record is reported and Lambda retries from it (the ones after it come again,
 * which the incident's node-version check makes harmless). Every log line of a record carries its
 * clusterId and nodeId; incidents opened and resolved are counted.
 */
export function createHandler(
  deps: Omit<TransitionDeps, 'logger'>,
  options: { logger?: Logger; metrics?: Metrics } = {},
) {
  const logger = options.logger ?? new Logger({ serviceName: 'on-transition' });
  const metrics = options.metrics ?? noMetrics;
  const processor = new BatchProcessor(EventType.DynamoDBStreams);
  const recordHandler = async (record: DynamoDBRecord) => {
    const node = transitionOf(record)?.node;
    logger.appendKeys({ clusterId: node?.clusterId, nodeId: node?.nodeId });
    try {
      const decision = await handleTransition(record, { ...deps, logger });
      if (decision !== undefined && decision.action !== 'none') {
        const event = decision.action === 'open' ? 'opened' : decision.event;
        if (event === 'opened' || event === 'reopened')
          metrics.add('IncidentsOpened', 1, { Kind: decision.incident.kind });
        else if (event === 'resolved') metrics.add('IncidentsResolved', 1);
      }
      return decision;
    } finally {
      logger.removeKeys(['clusterId', 'nodeId']);
    }
  };
  return middy(
    async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> =>
      processPartialResponse(event, recordHandler, processor, { processInParallel: false }),
  )
    .use(injectLambdaContext(logger))
    .use(publishMetrics(metrics));
}
