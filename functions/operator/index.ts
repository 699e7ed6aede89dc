import { Logger } from '@aws-lambda-powertools/logger';
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { documentClient } from '../adapters/clients';
import { requireEnv } from '../adapters/env';
import { DynamoIncidentStore } from '../adapters/incident-store';
import { DynamoNodeStateStore } from '../adapters/node-state-store';
import { RecoveryStore } from '../adapters/recovery-store';
import { StepFunctionsLauncher } from '../adapters/sfn-launcher';
import { createHandler } from './handler';

const logger = new Logger({ serviceName: 'operator' });
const sfn = new SFNClient({});
const signingSecretArn = process.env.SLACK_SIGNING_SECRET_ARN;
const switchoverArn = process.env.SWITCHOVER_STATE_MACHINE_ARN;
const tableName = requireEnv('TABLE_NAME');
const client = documentClient();
const recovery = new RecoveryStore(client, tableName);

export const handler = createHandler(
  {
    recovery,
    tokens: {
      succeed: async (taskToken, decision) => {
        await sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(decision) }));
      },
    },
    clock: Date.now,
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
