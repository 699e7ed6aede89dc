import { Logger } from '@aws-lambda-powertools/logger';
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { requireEnv } from '../adapters/env';
import { emfMetrics } from '../adapters/metrics-emf';
import { onceInTable } from '../adapters/once';
import { NOTIFY_SLACK_IDEMPOTENCY_SCOPE } from '../adapters/table-definition';
import { createHandler } from './handler';

const logger = new Logger({ serviceName: 'notify-slack' });
const tableName = requireEnv('TABLE_NAME');
const secretId = requireEnv('SLACK_WEBHOOK_SECRET_ARN');

export const handler = createHandler(
  {
    // Cached for 5 minutes by Powertools: a rotated webhook is picked up without a redeploy.
    webhookUrl: async () => {
      const value = await getSecret(secretId, { maxAge: 300 });
      if (typeof value !== 'string' || !value.startsWith('https://')) {
        throw new Error(
          `secret ${secretId} must hold the Slack incoming-webhook URL (https://…) as a plain string`,
        );
      }
      return value;
    },
    once: onceInTable(new DynamoDBClient({}), tableName, NOTIFY_SLACK_IDEMPOTENCY_SCOPE),
    region: process.env.AWS_REGION,
  },
  { logger, metrics: emfMetrics('notify-slack') },
);
