import { Logger } from '@aws-lambda-powertools/logger';
import { documentClient } from '../adapters/clients';
import { requireEnv } from '../adapters/env';
import { DynamoFleetCensus } from '../adapters/fleet-census';
import { emfMetrics } from '../adapters/metrics-emf';
import { DynamoNodeStateStore } from '../adapters/node-state-store';
import { TABLE } from '../adapters/table-definition';
import { createHandler } from './handler';

const logger = new Logger({ serviceName: 'sweep' });
const client = documentClient();
const tableName = requireEnv('TABLE_NAME');
const store = new DynamoNodeStateStore(client, tableName, logger);
const intervalSeconds = Number(process.env.SWEEP_INTERVAL_SECONDS ?? '10');
if (!(Number.isInteger(intervalSeconds) && intervalSeconds >= 1 && intervalSeconds <= 60)) {
  throw new Error(
    `SWEEP_INTERVAL_SECONDS must be an integer from 1 to 60, got '${process.env.SWEEP_INTERVAL_SECONDS}'`,
  );
}

/** One sweep per invocation; the sweep state machine (infra/constructs/detector.ts) invokes it once per slot. */
export const handler = createHandler(
  { index: store, store, shards: TABLE.sweepShards, census: new DynamoFleetCensus(client, tableName) },
  { intervalSeconds },
  { logger, metrics: emfMetrics('sweep') },
);
