import { Logger } from '@aws-lambda-powertools/logger';
import { documentClient, lazy, secretsManagerClient, snsClient } from '../adapters/clients';
import { requireEnv } from '../adapters/env';
import { lambdaInvoker, secretsManagerSecretValue, ssmAutomationStarter } from '../adapters/hooks';
import { emfMetrics } from '../adapters/metrics-emf';
import { DynamoNodeStateStore } from '../adapters/node-state-store';
import { SnsNotifier } from '../adapters/notifier';
import { clusterCredentials, clusterSecretArnFromTable, recoveryHooks } from '../adapters/recovery-hooks';
import { RecoveryStore } from '../adapters/recovery-store';
import { createHandler } from './handler';

const logger = new Logger({ serviceName: 'runbook-steps' });
const client = documentClient();
const tableName = requireEnv('TABLE_NAME');
const secretValue = secretsManagerSecretValue(secretsManagerClient());
// The Lambda and SSM clients serve hooks of those types only: imported and built when one first runs.
const lambda = lazy(async () => new (await import('@aws-sdk/client-lambda')).Lambda({}));
const ssm = lazy(async () => new (await import('@aws-sdk/client-ssm')).SSM({}));
// Database credentials for the built-in hooks ({"username","password"} in Secrets Manager): the cluster's
// own credentialsSecretArn (its META item), else the stack's databaseSecretArn, else the node URL's user.
const databaseSecretArn = process.env.DATABASE_SECRET_ARN;

export const handler = createHandler(
  {
    recovery: new RecoveryStore(client, tableName),
    nodes: new DynamoNodeStateStore(client, tableName, logger),
    hooks: recoveryHooks({
      credentials: clusterCredentials({
        secretValue,
        clusterSecretArn: clusterSecretArnFromTable(client, tableName),
        ...(databaseSecretArn ? { defaultSecretArn: databaseSecretArn } : {}),
      }),
      invokeLambda: lambdaInvoker({ invoke: async (input) => (await lambda()).invoke(input) }),
      startAutomation: ssmAutomationStarter({
        startAutomationExecution: async (input) => (await ssm()).startAutomationExecution(input),
      }),
      secretValue,
    }),
    notifier: new SnsNotifier(snsClient(), requireEnv('ALERTS_TOPIC_ARN')),
    clock: Date.now,
  },
  { logger, metrics: emfMetrics('runbook-steps') },
);
