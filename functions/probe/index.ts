import { readFileSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import { Kinesis } from '@aws-sdk/client-kinesis';
import { documentClient, secretsManagerClient } from '../adapters/clients';
import { applyClusterConfig } from '../adapters/cluster-config-store';
import { requireEnv } from '../adapters/env';
import { cachedSecretValue, secretsManagerSecretValue } from '../adapters/hooks';
import { PROBED_ENGINES } from '../adapters/probes';
import { probeSchedule, probeTargets } from '../core/config/deployed-stack';
import { parseClusterConfig } from '../core/config/parse';
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
if (config.probe === undefined || !config.probe.enabled) {
  throw new Error(`${configFile}: the probe function needs an enabled probe section`);
}
const targets = probeTargets(config, PROBED_ENGINES);
// One cadence knob: each cluster is probed every heartbeatIntervalSeconds of its policy, in rounds every
// roundSeconds (validated with every probed cluster's heartbeatTimeoutSeconds: core/probe-cadence.ts).
const { roundSeconds, deadlineSeconds } = probeSchedule(targets, config.probe);
// Secrets are read at most every 5 minutes, and once more after a server refuses the login (a rotation);
// never logged.
const secretValue = cachedSecretValue(secretsManagerSecretValue(secretsManagerClient()));
// Strictly increasing per observer across invocations and containers: the clock, bumped when called twice.
let lastSeq = 0;

export const handler = createHandler(
  {
    targets,
    observerId: config.probe.observerId ?? DEFAULT_OBSERVER_ID,
    deadlineMs: deadlineSeconds * 1000,
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
  // Invoked every minute (infra/constructs/probes.ts); rounds repeat every minute since roundSeconds divides 60.
  { roundSeconds, windowSeconds: 60 },
  { logger },
);
