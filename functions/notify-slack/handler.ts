import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SNSEvent } from 'aws-lambda';
import { type Metrics, noMetrics } from '../adapters/metrics';
import { publishMetrics } from '../adapters/metrics-middleware';
import { type NotifyDeps, notifySlack } from './notify';

/**
 * The notify-slack handler: an SNS subscriber (invoked asynchronously). Every message is posted: ours as
 * Block Kit, CloudWatch alarms as alarm messages, anything else as plain text with the reason (never thrown).
 * A failed delivery throws, so Lambda retries the event twice and then sends it to the function's
 * dead-letter queue. Posts are counted as
 * NotificationsSent, failures (each attempt) as NotificationsFailed.
 */
export function createHandler(
  deps: Omit<NotifyDeps, 'logger'>,
  options: { logger?: Logger; metrics?: Metrics } = {},
) {
  const logger = options.logger ?? new Logger({ serviceName: 'notify-slack' });
  const metrics = options.metrics ?? noMetrics;
  return middy(async (event: SNSEvent, context: Context): Promise<void> => {
    deps.once.registerLambdaContext?.(context);
    for (const record of event.Records) {
      logger.appendKeys({ snsMessageId: record.Sns.MessageId });
      try {
        const post = { ...deps.post, remainingMs: () => context.getRemainingTimeInMillis() };
        if (await notifySlack(record, { ...deps, post, logger })) metrics.add('NotificationsSent', 1);
      } catch (error) {
        metrics.add('NotificationsFailed', 1);
        throw error;
      }
    }
  })
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(publishMetrics(metrics));
}
