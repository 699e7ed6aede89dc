import { readFileSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import { Kinesis } from '@aws-sdk/client-kinesis';
import { documentClient, secretsManagerClient } from '../adapters/clients';
import { applyClusterConfig } from '../adapters/cluster-config-store';
import { requireEnv } from '../adapters/env';
import { cachedSecretValue, secretsManagerSecretValue } from '../adapters/hooks';
import { PROBED_ENGINES } from '../adapters/probes';
import { parseClusterConfig, probeDeadlineSeconds, probeTargets } from '../core/cluster-config';
import { createHandler } from './handler';
import { secretLogins } from './probe';
import { kinesisPublisher } from './publisher';

/** The observer id of the heartbeats when the configuration's probe section does not name one. */
const DEFAULT_OBSERVER_ID = 'probe-lambda';

const logger = new Logger({ serviceName: 'probe' });
const client = documentClient();
const tableName = requireEnv('TABLE_NAME');
// The configuration file given to `cdk deploy -c config=…`, shipped in a layer (infra/constructs/probes.ts)
// and validated again here with the same schema: a broken file fails the cold start naming file:line:col.
const configFile = requireEnv('CLUSTER_CONFIG_FILE');
const config = parseClusterConfig(readFileSync(configFile, 'utf8'), configFile, {
  target: 'deployed',
  probedEngines: PROBED_ENGINES,
  ...(process.env.AWS_REGION ? { region: process.env.AWS_REGION } : {}),
});
const intervalSeconds = config.probe?.intervalSeconds;
if (intervalSeconds === undefined || !config.probe?.enabled) {
  throw new Error(`${configFile}: the probe function needs an enabled probe section`);
}
// Secrets are read at most every 5 minutes, and once more after a server refuses the login (a rotation);
// never logged.
const secretValue = cachedSecretValue(secretsManagerSecretValue(secretsManagerClient()));
// Strictly increasing per observer across invocations and containers: the clock, bumped when called twice.
let lastSeq = 0;

export const handler = createHandler(
  {
    targets: probeTargets(config, PROBED_ENGINES),
    observerId: config.probe.observerId ?? DEFAULT_OBSERVER_ID,
    // Validated against the interval and every probed cluster's heartbeatTimeoutSeconds (probe-cadence.ts).
    deadlineMs: probeDeadlineSeconds(config.probe) * 1000,
    ...secretLogins(secretValue),
    publish: kinesisPublisher(new Kinesis({}), requireEnv('HEARTBEAT_STREAM_ARN')),
    seq: () => {
      lastSeq = Math.max(lastSeq + 1, Date.now());
      return lastSeq;
    },
    // No Scan: the function may not read the whole table, and clusters missing from the file stay anyway.
    applyConfig: async () =>
      (await applyClusterConfig(client, tableName, config, Date.now(), { findClustersNotInFile: false }))
        .text,
  },
  { intervalSeconds, windowSeconds: Math.max(60, intervalSeconds) },
  { logger },
);
