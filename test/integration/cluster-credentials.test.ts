import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { applyClusterConfig } from '../../functions/adapters/cluster-config-store';
import { type CredentialsSource, localCredentials } from '../../functions/adapters/hooks';
import {
  clusterCredentials,
  clusterSecretArnFromTable,
  recoveryHooks,
} from '../../functions/adapters/recovery-hooks';
import { parseClusterConfig } from '../../functions/core/config/parse';
import type { HookRequest } from '../../functions/core/hooks';
import { NotYetPrimaryError } from '../../functions/core/runbook';
import { createTestTable, type TestTable } from '../support/dynamodb';
import { type RedisTopology, redisCommand, startRedisTopology } from '../support/servers';

const SECRET = (name: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}`;
const ORDERS_SECRET = SECRET('orders-db-AbCdEf');
const STACK_SECRET = SECRET('sentinel-db-XyZ123');
const PASSWORD = 'orders-only-password';

let table: TestTable;
let redis: RedisTopology;
/** Secrets Manager, as the credentials see it: values by ARN, and every ARN read. */
const secrets = new Map<string, string>([
  [ORDERS_SECRET, JSON.stringify({ username: 'default', password: PASSWORD })],
  [STACK_SECRET, JSON.stringify({ username: 'default', password: 'the-stack-wide-password' })],
]);
const reads: string[] = [];
const secretValue = async (arn: string) => {
  reads.push(arn);
  const value = secrets.get(arn);
  if (value === undefined) throw new Error(`ResourceNotFoundException: ${arn}`);
  return value;
};

beforeAll(async () => {
  [table, redis] = await Promise.all([createTestTable('credentials'), startRedisTopology({ replicas: 0 })]);
  // Only the orders cluster's secret opens this server.
  await redisCommand(redis.primary, ['CONFIG', 'SET', 'requirepass', PASSWORD]);
  // The cluster items as a deployed stack has them: written from the configuration file.
  const url = redis.primary.endpoint.url.replace('redis://', 'redis://sentinel@');
  const config = parseClusterConfig(
    [
      'clusters:',
      ...['orders', 'cache'].flatMap((id) => [
        `  - id: ${id}`,
        '    engine: redis',
        ...(id === 'orders' ? [`    credentialsSecretArn: ${ORDERS_SECRET}`] : []),
        `    nodes: [{ id: r1, url: "${url}" }, { id: r2, url: "redis://127.0.0.1:1" }]`,
      ]),
    ].join('\n'),
    'clusters.yaml',
    { target: 'deployed' },
  );
  await applyClusterConfig(table.client, table.tableName, config, Date.now(), {
    findClustersNotInFile: false,
  });
});

afterAll(async () => {
  await Promise.all([table?.drop(), redis?.stop()]);
});

const request = (clusterId: string): HookRequest => ({
  action: 'promote',
  clusterId,
  engine: 'redis',
  incidentId: 'i-1',
  epoch: 1,
  target: { nodeId: 'r1', url: redis.primary.endpoint.url.replace('redis://', 'redis://sentinel@') },
});

describe("built-in hooks use the cluster's own credentialsSecretArn", () => {
  const withDefault = () =>
    clusterCredentials({
      secretValue,
      clusterSecretArn: clusterSecretArnFromTable(table.client, table.tableName),
      defaultSecretArn: STACK_SECRET,
    });

  it("reads the secret named by the cluster's item, not the stack-wide one", async () => {
    reads.length = 0;
    await expect(withDefault()(request('orders'))).resolves.toEqual({
      username: 'default',
      password: PASSWORD,
    });
    expect(reads).toEqual([ORDERS_SECRET]);
  });

  it('falls back to the stack-wide databaseSecretArn for a cluster without its own, then to the URL user', async () => {
    reads.length = 0;
    await expect(withDefault()(request('cache'))).resolves.toEqual({
      username: 'default',
      password: 'the-stack-wide-password',
    });
    expect(reads).toEqual([STACK_SECRET]);
    const noDefault = clusterCredentials({
      secretValue,
      clusterSecretArn: clusterSecretArnFromTable(table.client, table.tableName),
    });
    await expect(noDefault(request('cache'))).resolves.toEqual({ username: 'sentinel' });
  });

  it("lets the verify check log in to a server that only the cluster's secret opens", async () => {
    const hooks = recoveryHooks({ credentials: withDefault() });

    await expect(hooks.verifyPrimary('redis', request('orders').target, 'orders')).resolves.toBeUndefined();
    // The stack-wide login is refused by the same server: the check cannot confirm the primary.
    await expect(hooks.verifyPrimary('redis', request('cache').target, 'cache')).rejects.toThrow(
      NotYetPrimaryError,
    );
  });

  it('asks the credentials with the cluster id for the checks as for the hooks', async () => {
    const asked: string[] = [];
    const recording: CredentialsSource = async (r) => {
      asked.push(r.clusterId);
      return localCredentials(r);
    };
    const hooks = recoveryHooks({ credentials: recording });

    await hooks.replicationProgress('redis', request('orders').target, 'orders').catch(() => undefined);

    expect(asked).toEqual(['orders']);
  });
});
