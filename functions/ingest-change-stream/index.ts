import { Logger } from '@aws-lambda-powertools/logger';
import { documentClient, sqsClient } from '../adapters/clients';
import { requireEnv } from '../adapters/env';
import { emfMetrics } from '../adapters/metrics-emf';
import { DynamoNodeStateStore } from '../adapters/node-state-store';
import { SqsQuarantine } from '../adapters/quarantine';
import { createHandler } from './handler';

// Read once per container; a missing variable fails the cold start with its name.
const logger = new Logger({ serviceName: 'ingest-change-stream' });
const tableName = requireEnv('TABLE_NAME');
const queueUrl = requireEnv('QUARANTINE_QUEUE_URL');

export const handler = createHandler(
  {
    store: new DynamoNodeStateStore(documentClient(), tableName, logger),
    quarantine: new SqsQuarantine(sqsClient(), queueUrl),
  },
  { logger, metrics: emfMetrics('ingest-change-stream') },
);
