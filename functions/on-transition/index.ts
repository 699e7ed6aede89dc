import { Logger } from '@aws-lambda-powertools/logger';
import { documentClient, sfnClient, snsClient } from '../adapters/clients';
import { requireEnv } from '../adapters/env';
import { DynamoIncidentStore } from '../adapters/incident-store';
import { emfMetrics } from '../adapters/metrics-emf';
import { DynamoNodeStateStore } from '../adapters/node-state-store';
import { SnsNotifier } from '../adapters/notifier';
import { StepFunctionsLauncher } from '../adapters/sfn-launcher';
import { createHandler } from './handler';

const logger = new Logger({ serviceName: 'on-transition' });
const tableName = requireEnv('TABLE_NAME');
const topicArn = requireEnv('ALERTS_TOPIC_ARN');
const region = requireEnv('AWS_REGION');
const logGroup = requireEnv('AWS_LAMBDA_LOG_GROUP_NAME');
const client = documentClient();

export const handler = createHandler(
  {
    incidents: new DynamoIncidentStore(client, tableName),
    nodes: new DynamoNodeStateStore(client, tableName, logger),
    notifier: new SnsNotifier(snsClient(), topicArn),
    runbooks: new StepFunctionsLauncher(sfnClient(), {
      'primary-failover': requireEnv('FAILOVER_STATE_MACHINE_ARN'),
      'replica-recovery': requireEnv('RECOVERY_STATE_MACHINE_ARN'),
    }),
    // The function's own log group (set by the Lambda runtime): the message links to where it logged.
    links: () => ({
      logsUrl: `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#logsV2:log-groups/log-group/${encodeURIComponent(logGroup)}`,
    }),
  },
  { logger, metrics: emfMetrics('on-transition') },
);
