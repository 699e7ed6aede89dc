import { Logger } from '@aws-lambda-powertools/logger';
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { documentClient } from '../adapters/clients';
import { requireEnv } from '../adapters/env';
import { DynamoIncidentStore } from '../adapters/incident-store';
import { DynamoNodeStateStore } from '../adapters/node-state-store';
import { SnsNotifier } from '../adapters/notifier';
import { OperatorStore } from '../adapters/operator-store';
import { RecoveryStore } from '../adapters/recovery-store';
import { StepFunctionsExecutions, StepFunctionsLauncher } from '../adapters/sfn-launcher';
import { createHandler } from './handler';

const logger = new Logger({ serviceName: 'operator' });
const sfn = new SFNClient({});
const client = documentClient();
const tableName = requireEnv('TABLE_NAME');
const signingSecretArn = process.env.SLACK_SIGNING_SECRET_ARN;
const switchoverArn = process.env.SWITCHOVER_STATE_MACHINE_ARN;
const failoverArn = process.env.FAILOVER_STATE_MACHINE_ARN;
const recoveryArn = process.env.RECOVERY_STATE_MACHINE_ARN;
const recovery = new RecoveryStore(client, tableName);

export const handler = createHandler(
  {
    recovery,
    store: new OperatorStore(client, tableName),
    nodes: new DynamoNodeStateStore(client, tableName, logger),
    tokens: {
      succeed: async (taskToken, decision) => {
        await sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(decision) }));
      },
    },
    // Runbook name → state machine ARN (set by the OperatorApi construct).
    executions: new StepFunctionsExecutions(
      sfn,
      JSON.parse(requireEnv('RUNBOOK_STATE_MACHINE_ARNS')) as Record<string, string>,
    ),
    notifier: new SnsNotifier(new SNSClient({}), requireEnv('ALERTS_TOPIC_ARN')),
    clock: Date.now,
    slackAllowedUserIds: (process.env.SLACK_ALLOWED_USER_IDS ?? '')
      .split(',')
      .map((id) => id.trim())
      .filter((id) => id !== ''),
    ...(switchoverArn
      ? {
          switchover: {
            recovery,
            nodes: new DynamoNodeStateStore(client, tableName, logger),
            incidents: new DynamoIncidentStore(client, tableName),
            launcher: new StepFunctionsLauncher(sfn, { 'primary-switchover': switchoverArn }),
            clock: Date.now,
          },
        }
      : {}),
    ...(recoveryArn
      ? {
          nodeRequests: {
            incidents: new DynamoIncidentStore(client, tableName),
            launcher: new StepFunctionsLauncher(sfn, { 'replica-recovery': recoveryArn }),
          },
        }
      : {}),
    ...(failoverArn && recoveryArn && switchoverArn
      ? {
          // Manual failovers and `recover` start any runbook.
          runbooks: {
            incidents: new DynamoIncidentStore(client, tableName),
            launcher: new StepFunctionsLauncher(sfn, {
              'primary-failover': failoverArn,
              'replica-recovery': recoveryArn,
              'primary-switchover': switchoverArn,
            }),
          },
        }
      : {}),
    ...(signingSecretArn
      ? {
          slackSigningSecret: async () => {
            const value = await getSecret(signingSecretArn, { maxAge: 300 });
            if (typeof value !== 'string')
              throw new Error(`secret ${signingSecretArn} must hold the Slack signing secret as text`);
            return value;
          },
        }
      : {}),
  },
  { logger },
);
