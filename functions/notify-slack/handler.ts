import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SNSEvent } from 'aws-lambda';
import { type NotifyDeps, notifySlack } from './notify';

/**
 * The notify-slack handler: an SNS subscriber (invoked asynchronously). A failure throws, so Lambda
 * retries the event twice and then sends it to the function's dead-letter queue.
 */
export function createHandler(deps: Omit<NotifyDeps, 'logger'>, options: { logger?: Logger } = {}) {
  const logger = options.logger ?? new Logger({ serviceName: 'notify-slack' });
  return middy(async (event: SNSEvent, context: Context): Promise<void> => {
    deps.once.registerLambdaContext?.(context);
    for (const record of event.Records) await notifySlack(record, { ...deps, logger });
  }).use(injectLambdaContext(logger));
}
