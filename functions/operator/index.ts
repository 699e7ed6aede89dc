import { Logger } from '@aws-lambda-powertools/logger';
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { documentClient } from '../adapters/clients';
import { requireEnv } from '../adapters/env';
import { RecoveryStore } from '../adapters/recovery-store';
import { createHandler } from './handler';

const logger = new Logger({ serviceName: 'operator' });
const sfn = new SFNClient({});
const signingSecretArn = process.env.SLACK_SIGNING_SECRET_ARN;

export const handler = createHandler(
  {
    recovery: new RecoveryStore(documentClient(), requireEnv('TABLE_NAME')),
    tokens: {
      succeed: async (taskToken, decision) => {
        await sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(decision) }));
      },
    },
    clock: Date.now,
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
