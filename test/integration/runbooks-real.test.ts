import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from '@jest/globals';
import { localCredentials } from '../../functions/adapters/hooks';
import { nodeItem } from '../../functions/adapters/node-state-store';
import { recoveryHooks } from '../../functions/adapters/recovery-hooks';
import { TABLE } from '../../functions/adapters/table-definition';
import type { NodeState } from '../../functions/core/node-state';
import { sweepShardOf } from '../../functions/core/node-state';
import type { Engine } from '../../functions/core/position';
import type { ApprovalDecision } from '../../functions/core/runbook';
import { FAILOVER_FLOW, flowPath } from '../../functions/core/runbook-flows';
import { runRunbook } from '../../local/runbook-runner';
import { createTestTable, type TestTable } from '../support/dynamodb';
import { openIncident, runbookInput, stepsFor } from '../support/runbooks';
import {
  type PrimaryReplicaPair,
  pgQuery,
  type RedisTopology,
  redisCommand,
  redisInfo,
  type ServerNode,
  startPostgresPair,
  startRedisTopology,
  waitFor,
} from '../support/servers';
import { putClusterItem } from '../support/table-items';

/**
 * The primary-failover runbook, from the synthesized state machine, with the real runbook-steps handler
 * and the real built-in hooks, against real servers on 127.0.0.1: the primary is killed, the most advanced
 * replica is promoted and the other repointed; the result is checked on the servers themselves.
 */
const never = () => new Promise<ApprovalDecision>(() => undefined);
const hooks = recoveryHooks({ credentials: localCredentials });

function state(
  clusterId: string,
  node: ServerNode,
  engine: Engine,
  role: 'primary' | 'replica',
  position: string,
  now: number,
  status: NodeState['status'],
): NodeState {
  return {
    clusterId,
    nodeId: node.nodeId,
    engine,
    role,
    status,
    statusSince: now,
    statusReason: status === 'DEAD' ? 'no report and 2/2 views confirm' : 'replication link down',
    seq: 10,
    lastHeartbeatAt: status === 'DEAD' ? now - 40_000 : now - 2000,
    lastProgressAt: now - 40_000,
    healthyStreak: 0,
    observers: {},
    deadlineAt: now + 30_000,
    sweepShard: sweepShardOf(clusterId, node.nodeId, TABLE.sweepShards),
    version: 5,
    ...(role === 'primary' ? { position } : { appliedPosition: position }),
  };
}

async function seed(table: TestTable, clusterId: string, nodes: { node: ServerNode; state: NodeState }[]) {
  for (const { state: s } of nodes) {
    await table.client.send(
      new PutCommand({
        TableName: table.tableName,
        Item: nodeItem(s),
      }),
    );
  }
  await putClusterItem(table, clusterId, {
    mode: 'auto',
    epoch: 1,
    primaryNodeId: nodes[0]?.node.nodeId,
    nodes: nodes.map(({ node }) => node.endpoint),
  });
}

describe('failover on real servers', () => {
  let table: TestTable | undefined;
  let redis: RedisTopology | undefined;
  let postgres: PrimaryReplicaPair | undefined;
  afterAll(async () => {
    await redis?.stop();
    await postgres?.stop();
    await table?.drop();
  });

  it('promotes the most advanced Redis replica, repoints the other, and the servers say so', async () => {
    table ??= await createTestTable('real');
    redis = await startRedisTopology({ replicas: 2 });
    const [behind, ahead] = redis.replicas as [ServerNode, ServerNode];
    // One replica stops applying (its link stays up), the other keeps up: the most advanced is `ahead`.
    await redisCommand(behind, ['CLIENT', 'PAUSE', '60000', 'WRITE']);
    for (let i = 0; i < 50; i++) await redisCommand(redis.primary, ['SET', `key-${i}`, `value-${i}`]);
    const primaryInfo = await redisInfo(redis.primary);
    const primaryPosition = `${primaryInfo.get('master_replid')}:${primaryInfo.get('master_repl_offset')}`;
    await waitFor(
      'the ahead replica to catch up',
      async () => (await hooks.replicationProgress('redis', ahead.endpoint)) === primaryPosition,
    );
    await redis.kill(redis.primary);
    await redisCommand(behind, ['CLIENT', 'UNPAUSE']);

    const now = Date.now();
    const clusterId = 'real-redis';
    const nodes = [
      {
        node: redis.primary,
        state: state(clusterId, redis.primary, 'redis', 'primary', primaryPosition, now, 'DEAD'),
      },
      ...(await Promise.all(
        [behind, ahead].map(async (node) => ({
          node,
          state: state(
            clusterId,
            node,
            'redis',
            'replica',
            (await hooks.replicationProgress('redis', node.endpoint)) ?? '0',
            now,
            'STALLED',
          ),
        })),
      )),
    ];
    await seed(table, clusterId, nodes);
    const incident = await openIncident(table, clusterId, redis.primary.nodeId, 'primary', 'DEAD', now);
    const { steps, recovery } = stepsFor(table, hooks);

    const result = await runRunbook('primary-failover', runbookInput(incident), {
      steps,
      approvals: never,
      retryIntervalOverrides: { Verify: 200 },
    });

    expect(result.states).toEqual(
      flowPath(FAILOVER_FLOW, ['proceed', 'locked', 'auto', 'done', 'done', 'done']),
    );
    expect((await recovery.getCluster(clusterId)).primaryNodeId).toBe(ahead.nodeId);
    // The killed primary was asked before anything moved: its port refused the connection.
    const fenced = (
      await recovery.getIncident(clusterId, incident.incidentId, incident.openedAt)
    )?.runbookSteps?.find((s) => s.step === 'fenced');
    expect(fenced?.detail).toMatch(
      /checked on the server: .* refused the connection: nothing listens on its port/,
    );
    const promoted = await redisInfo(ahead);
    expect(promoted.get('role')).toBe('master');
    await waitFor('the other replica to follow the promoted one', async () => {
      const info = await redisInfo(behind);
      return (
        info.get('role') === 'slave' &&
        info.get('master_port') === String(ahead.port) &&
        info.get('master_link_status') === 'up'
      );
    });
    await redisCommand(ahead, ['SET', 'after-failover', 'yes']);
    await waitFor(
      'a write on the new primary to reach the repointed replica',
      async () => (await redisCommand(behind, ['GET', 'after-failover'])) === 'yes',
    );
    expect((await redisInfo(ahead)).get('connected_slaves')).toBe('1');
  });

  it('promotes a PostgreSQL streaming replica after its primary is killed', async () => {
    table ??= await createTestTable('real');
    postgres = await startPostgresPair();
    await pgQuery(postgres.primary, 'CREATE TABLE IF NOT EXISTS orders (id int primary key)');
    await pgQuery(postgres.primary, 'INSERT INTO orders SELECT generate_series(1, 100)');
    const [{ lsn }] = (await pgQuery<{ lsn: string }>(
      postgres.primary,
      'SELECT pg_current_wal_lsn()::text AS lsn',
    )) as [{ lsn: string }];
    await waitFor('the replica to replay everything', async () => {
      const replayed = await hooks.replicationProgress(
        'postgresql',
        postgres?.replica.endpoint ?? { nodeId: '', url: '' },
      );
      return replayed === lsn;
    });
    await postgres.kill(postgres.primary);

    const now = Date.now();
    const clusterId = 'real-pg';
    await seed(table, clusterId, [
      {
        node: postgres.primary,
        state: state(clusterId, postgres.primary, 'postgresql', 'primary', lsn, now, 'DEAD'),
      },
      {
        node: postgres.replica,
        state: state(clusterId, postgres.replica, 'postgresql', 'replica', lsn, now, 'STALLED'),
      },
    ]);
    const incident = await openIncident(table, clusterId, postgres.primary.nodeId, 'primary', 'DEAD', now);
    const { steps } = stepsFor(table, hooks);

    const result = await runRunbook('primary-failover', runbookInput(incident), {
      steps,
      approvals: never,
      retryIntervalOverrides: { Verify: 200 },
    });

    expect(result.status).toBe('SUCCEEDED');
    const [{ recovery }] = (await pgQuery<{ recovery: boolean }>(
      postgres.replica,
      'SELECT pg_is_in_recovery() AS recovery',
    )) as [{ recovery: boolean }];
    expect(recovery).toBe(false);
    await pgQuery(postgres.replica, 'INSERT INTO orders VALUES (1001)');
    const [{ count }] = (await pgQuery<{ count: string }>(
      postgres.replica,
      'SELECT count(*)::text AS count FROM orders',
    )) as [{ count: string }];
    expect(count).toBe('101');
  });
});
