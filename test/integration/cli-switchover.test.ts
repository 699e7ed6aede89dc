import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { documentClient } from '../../functions/adapters/clients';
import { LOCAL_AWS } from '../../local/dynamodb-local';
import type { LocalStack } from '../../local/local-stack';
import { follows } from '../../local/redis-servers';
import { cli } from '../support/cli';
import { storedNode } from '../support/node-states';
import { startRunbookStack } from '../support/runbook-stack';
import {
  type RedisTopology,
  redisCommand,
  type ServerNode,
  startRedisTopology,
  waitFor,
} from '../support/servers';
import { getClusterItem, incidentItems, putClusterItem, putNodeState } from '../support/table-items';

/**
 * `replica-sentinel switchover` against a local stack and real Redis servers: bad requests exit 2 with one
 * line and change nothing; a good one moves the primary and prints how it ended.
 */
const CLUSTER = 'cli-sw';
let stack: LocalStack | undefined;
let redis: RedisTopology | undefined;

/** A HEALTHY Redis node of the cluster; its deadline far ahead: the stack's sweep must not find it silent. */
const healthy = (node: ServerNode, role: 'primary' | 'replica', source: string | undefined, now: number) =>
  storedNode(node.nodeId, role, now, {
    clusterId: CLUSTER,
    deadlineAt: now + 3_600_000,
    ...(source ? { sourceNodeId: source } : {}),
  });

const client = () => documentClient({ ...LOCAL_AWS, endpoint: stack?.dynamodbEndpoint ?? '' });
/** The stack's table, through a new client. */
const table = () => ({ client: client(), tableName: stack?.tableName ?? '' });
const meta = () => getClusterItem(table(), CLUSTER);
const incidents = () => incidentItems(table(), CLUSTER);

beforeAll(async () => {
  stack = await startRunbookStack('cli-switchover', 60_000);
  redis = await startRedisTopology({ replicas: 2 });
  const now = Date.now();
  const [other, target] = redis.replicas as [ServerNode, ServerNode];
  for (const s of [
    healthy(redis.primary, 'primary', undefined, now),
    healthy(other, 'replica', redis.primary.nodeId, now),
    healthy(target, 'replica', redis.primary.nodeId, now),
  ])
    await putNodeState(table(), CLUSTER, s);
  await putClusterItem(table(), CLUSTER, {
    mode: 'auto',
    epoch: 2,
    primaryNodeId: redis.primary.nodeId,
    nodes: [redis.primary.endpoint, { ...other.endpoint, noPromote: true }, target.endpoint],
  });
});

afterAll(async () => {
  await redis?.stop();
  await stack?.stop();
});

const switchover = (...args: string[]) =>
  cli(['switchover', '--endpoint', stack?.url ?? '', '--as', 'sre-1', ...args]);

describe('replica-sentinel switchover', () => {
  it('refuses a bad request with exit 2 and one line, changing nothing', async () => {
    const before = await meta();
    const cases: [string[], RegExp][] = [
      [['--cluster', CLUSTER], /--reason is required/],
      [['--reason', 'x'], /--cluster is required/],
      [['--cluster', CLUSTER, '--reason', 'x', '--to', 'redis-9'], /unknown node redis-9/],
      [['--cluster', CLUSTER, '--reason', 'x', '--to', redis?.primary.nodeId ?? ''], /already the primary/],
      [['--cluster', CLUSTER, '--reason', 'x', '--to', redis?.replicas[0]?.nodeId ?? ''], /noPromote/],
      [['--cluster', 'nope', '--reason', 'x'], /unknown cluster nope/],
      [['--cluster', CLUSTER, '--reason', 'x', '--bogus'], /bogus/],
    ];
    for (const [args, message] of cases) {
      const result = await switchover(...args);
      expect([args.join(' '), result.code]).toEqual([args.join(' '), 2]);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(message);
    }
    expect(await meta()).toEqual(before);
    expect(await incidents()).toEqual([]);
  });

  it('refuses while a recovery holds the lock', async () => {
    await client().send(
      new PutCommand({
        TableName: stack?.tableName,
        Item: { ...(await meta()), lockIncidentId: 'busy', lockRunbook: 'replica-recovery' },
      }),
    );
    const result = await switchover('--cluster', CLUSTER, '--reason', 'x');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/a recovery holds the cluster lock \(incident busy/);
    const { lockIncidentId: _, lockRunbook: __, ...free } = (await meta()) ?? {};
    await client().send(new PutCommand({ TableName: stack?.tableName, Item: free }));
    expect(await incidents()).toEqual([]);
  });

  it('dry run: plans, touches nothing, exit 0', async () => {
    const result = await switchover('--cluster', CLUSTER, '--reason', 'rehearsal', '--dry-run');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/switchover \(dry run\) from redis-1 to redis-3 started/);
    expect(result.stdout).toMatch(/dry run: nothing touched/);
    expect(((await redisCommand(redis?.primary as ServerNode, ['ROLE'])) as unknown[])[0]).toBe('master');
    expect((await meta())?.primaryNodeId).toBe(redis?.primary.nodeId);
  });

  it('moves the primary to the most advanced eligible replica and says so; the old primary follows it', async () => {
    const target = redis?.replicas[1] as ServerNode;
    const result = await switchover('--cluster', CLUSTER, '--reason', 'kernel upgrade on redis-1');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/switched over: redis-3 is the primary at epoch 3/);
    expect((await meta())?.primaryNodeId).toBe(target.nodeId);
    await waitFor('the old primary to follow the new one', () =>
      follows(redis?.primary as ServerNode, target),
    );
    const [incident] = (await incidents()).filter((i) => i.request?.dryRun !== true);
    expect(incident).toMatchObject({
      kind: 'SWITCHOVER',
      state: 'RESOLVED',
      request: { by: 'local:sre-1', reason: 'kernel upgrade on redis-1' },
    });
  });
});
