import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeEach, describe, expect, it } from '@jest/globals';
import { applyClusterConfig } from '../../functions/adapters/cluster-config-store';
import { DynamoIncidentStore } from '../../functions/adapters/incident-store';
import { RecoveryStore } from '../../functions/adapters/recovery-store';
import { keys } from '../../functions/adapters/table-definition';
import { parseClusterConfig } from '../../functions/core/config/parse';
import { DEFAULT_POLICY } from '../../functions/core/policy';
import type { ClusterRecoveryState } from '../../functions/core/recovery';
import { loadConfigFixture } from '../fixtures/config';
import { useTestTable } from '../support/dynamodb';
import { getClusterItem } from '../support/table-items';

/**
 * The configuration file applied to the real table (DynamoDB Local) and read back by the code the
 * runbooks use (RecoveryStore.getCluster), next to what the runbooks write themselves.
 */
describe('applyClusterConfig on DynamoDB Local', () => {
  const table = useTestTable('config', 'each');
  let recovery: RecoveryStore;
  beforeEach(async () => {
    recovery = new RecoveryStore(table.client, table.tableName);
  });

  const T0 = Date.parse('2026-11-22T23:00:00.000Z');
  const full = () => parseClusterConfig(loadConfigFixture('full'), 'full.yaml');

  const metaItem = (clusterId: string) => getClusterItem(table, clusterId);

  /** What the runbooks and the CLI write on a cluster item during a failover and a maintenance window. */
  async function runtimeWrites(clusterId: string): Promise<void> {
    await table.client.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { PK: keys.clusterPk(clusterId), SK: keys.clusterMetaSk },
        UpdateExpression:
          'SET epoch = :epoch, epochIncidentId = :inc, epochCandidate = :primary, fencedNodeId = :old, primaryNodeId = :primary, ' +
          'lockIncidentId = :inc, lockSince = :since, lastRecoveryAt = :last, maintenanceUntil = :until, ' +
          'maintenanceBy = :by, maintenanceReason = :why, maintenanceLog = :log',
        ExpressionAttributeValues: {
          ':epoch': 5,
          ':inc': 'inc-7',
          ':old': 'pg-1',
          ':primary': 'pg-2',
          ':since': T0 + 1_000,
          ':last': T0 - 86_400_000,
          ':until': T0 + 7_200_000,
          ':by': 'alice',
          ':why': 'minor version upgrade',
          ':log': [{ action: 'set', by: 'alice', at: T0 }],
        },
      }),
    );
  }

  it('creates META items that RecoveryStore.getCluster reads back as the configured cluster state', async () => {
    // Prepare
    const config = full();
    const hooks = config.clusters[0]?.hooks ?? {};

    // Act
    const summary = await applyClusterConfig(table.client, table.tableName, config, T0);

    // Assess
    expect(summary).toEqual({
      created: ['doris-fe', 'orders-pg'],
      updated: [],
      unchanged: [],
      notInFile: [],
      text: '2 created (doris-fe, orders-pg), 0 updated, 0 unchanged',
    });
    expect(await recovery.getCluster('orders-pg')).toEqual({
      mode: 'approve',
      policy: { ...DEFAULT_POLICY, maxLagSeconds: 10 },
      epoch: 0,
      nodes: [
        { nodeId: 'pg-1', url: 'postgresql://replicator@10.0.1.10:5432/orders' },
        { nodeId: 'pg-2', url: 'postgres://replicator@10.0.1.11:5432/orders', priority: 10 },
        { nodeId: 'pg-3', url: 'postgresql://replicator@10.0.1.12:5432/orders', noPromote: true },
      ],
      hooks,
      approvalTimeoutSeconds: 600,
      fencing: 'strict',
    } satisfies ClusterRecoveryState);
    expect(await recovery.getCluster('doris-fe')).toEqual({
      mode: 'dry-run',
      policy: DEFAULT_POLICY,
      epoch: 0,
      nodes: [
        { nodeId: 'fe1', url: 'mysql://10.0.2.10:9030' },
        { nodeId: 'fe2', url: 'mysql://10.0.2.11:9030' },
      ],
      hooks: {},
      approvalTimeoutSeconds: 900,
      fencing: 'strict',
    } satisfies ClusterRecoveryState);
    expect(await metaItem('orders-pg')).toMatchObject({
      type: 'cluster',
      configuredAt: T0,
      clusterId: 'orders-pg',
      engine: 'postgresql',
      credentialsSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders-pg-db-AbCdEf',
    });
  });

  it('keeps what the runbooks wrote (epoch, primary, lock, cooldown, maintenance) when the file is applied again', async () => {
    // Prepare
    await applyClusterConfig(table.client, table.tableName, full(), T0);
    await runtimeWrites('orders-pg');
    const before = await metaItem('orders-pg');

    // Act
    const summary = await applyClusterConfig(table.client, table.tableName, full(), T0 + 60_000);

    // Assess
    expect(summary.text).toBe('0 created, 0 updated, 2 unchanged');
    expect(await metaItem('orders-pg')).toEqual({ ...before, configuredAt: T0 + 60_000 });
    expect(await recovery.getCluster('orders-pg')).toMatchObject({
      epoch: 5,
      primaryNodeId: 'pg-2',
      epochCandidate: 'pg-2',
      lockIncidentId: 'inc-7',
      lockSince: T0 + 1_000,
      lastRecoveryAt: T0 - 86_400_000,
      maintenanceUntil: T0 + 7_200_000,
      maintenanceBy: 'alice',
      maintenanceReason: 'minor version upgrade',
      mode: 'approve',
    });
    // The fencing token still moves from where the runbook left it.
    expect(await recovery.bumpEpoch('orders-pg', 'inc-7', 5, 'pg-2', 'pg-3')).toBe(6);
  });

  it('applies a changed mode, policy and node list, and removes a setting the file no longer has', async () => {
    // Prepare
    await applyClusterConfig(table.client, table.tableName, full(), T0);
    await runtimeWrites('orders-pg');
    const changed = parseClusterConfig(
      loadConfigFixture('full')
        .replace('mode: approve', 'mode: auto')
        .replace('maxLagSeconds: 10', 'maxLagSeconds: 20\n      quorum: 3')
        .replace(/ {4}credentialsSecretArn: .*\n/, '')
        .replace('        noPromote: true\n', '        noPromote: false\n'),
    );

    // Act
    const summary = await applyClusterConfig(table.client, table.tableName, changed, T0 + 60_000);

    // Assess
    expect(summary).toMatchObject({ created: [], updated: ['orders-pg'], unchanged: ['doris-fe'] });
    const cluster = await recovery.getCluster('orders-pg');
    expect(cluster.mode).toBe('auto');
    expect(cluster.policy).toEqual({ ...DEFAULT_POLICY, maxLagSeconds: 20, quorum: 3 });
    expect(cluster.nodes[2]).toEqual({
      nodeId: 'pg-3',
      url: 'postgresql://replicator@10.0.1.12:5432/orders',
      noPromote: false,
    });
    expect(cluster.epoch).toBe(5);
    expect(cluster.lockIncidentId).toBe('inc-7');
    expect(await metaItem('orders-pg')).not.toHaveProperty('credentialsSecretArn');
    // The incident side (on-transition) reads the same mode and policy.
    const meta = await new DynamoIncidentStore(table.client, table.tableName).getClusterMeta('orders-pg');
    expect(meta).toMatchObject({ mode: 'auto', policy: cluster.policy, maintenanceBy: 'alice' });
  });

  it('configures a cluster the runtime already wrote to (a lock or a maintenance window) as updated, keeping its fields', async () => {
    // Prepare: a maintenance window set before the cluster was ever configured
    await runtimeWrites('orders-pg');

    // Act
    const summary = await applyClusterConfig(table.client, table.tableName, full(), T0);

    // Assess
    expect(summary).toMatchObject({ created: ['doris-fe'], updated: ['orders-pg'] });
    expect(await recovery.getCluster('orders-pg')).toMatchObject({ epoch: 5, mode: 'approve' });
  });

  it('deletes no cluster missing from the file, and names them in the summary', async () => {
    // Prepare: a configured cluster, and one whose nodes report but that no file ever listed
    await applyClusterConfig(table.client, table.tableName, full(), T0);
    await table.client.send(
      new PutCommand({
        TableName: table.tableName,
        Item: {
          PK: keys.clusterPk('legacy-redis'),
          SK: keys.nodeSk('r1'),
          type: 'node',
          clusterId: 'legacy-redis',
        },
      }),
    );
    const onlyDoris = parseClusterConfig(
      [
        'clusters:',
        '  - id: doris-fe',
        '    engine: doris',
        '    mode: dry-run',
        '    nodes:',
        '      - { id: fe1, url: "mysql://10.0.2.10:9030" }',
        '      - { id: fe2, url: "mysql://10.0.2.11:9030" }',
      ].join('\n'),
    );

    // Act
    const summary = await applyClusterConfig(table.client, table.tableName, onlyDoris, T0 + 60_000);

    // Assess
    expect(summary).toEqual({
      created: [],
      updated: [],
      unchanged: ['doris-fe'],
      notInFile: ['legacy-redis', 'orders-pg'],
      text: '0 created, 0 updated, 1 unchanged; not in the file: legacy-redis, orders-pg (left as they are)',
    });
    expect(await metaItem('orders-pg')).toMatchObject({ mode: 'approve', configuredAt: T0 });
    const skipped = await applyClusterConfig(table.client, table.tableName, onlyDoris, T0, {
      findClustersNotInFile: false,
    });
    expect(skipped.notInFile).toEqual([]);
  });
});
