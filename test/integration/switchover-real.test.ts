import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from '@jest/globals';
import { createClient } from 'redis';
import { localCredentials } from '../../functions/adapters/hooks';
import { DynamoIncidentStore } from '../../functions/adapters/incident-store';
import { recoveryHooks } from '../../functions/adapters/recovery-hooks';
import { RequestRefusedError, startSwitchover } from '../../functions/adapters/switchover-starter';
import { keys, TABLE } from '../../functions/adapters/table-definition';
import type { Incident } from '../../functions/core/incidents';
import { type NodeState, sweepShardOf } from '../../functions/core/node-state';
import type { ApprovalDecision } from '../../functions/core/runbook';
import { flowPath, SWITCHOVER_FLOW } from '../../functions/core/runbook-flows';
import { follows } from '../../local/redis-servers';
import { type RunbookRun, runRunbook } from '../../local/runbook-runner';
import { createTestTable, type TestTable } from '../support/dynamodb';
import { runbookInput, stepsFor } from '../support/runbooks';
import {
  type RedisTopology,
  redisCommand,
  type ServerNode,
  startRedisTopology,
  waitFor,
} from '../support/servers';

/**
 * The primary-switchover runbook from the synthesized state machine, with the real steps and built-in hooks,
 * against a real Redis primary and two replicas while a client writes: the asked-for replica takes over,
 * the old primary and the other replica follow it, and every acknowledged write is on the new primary.
 */
const never = () => new Promise<ApprovalDecision>(() => undefined);
const hooks = recoveryHooks({ credentials: localCredentials });

/** A client writing keys 1, 2, 3… to the node it believes primary, moving to the master on an error. */
class Writer {
  readonly acked: { seq: number; at: number; port: number }[] = [];
  #seq = 0;
  #running = true;
  #loop: Promise<void>;
  constructor(private readonly nodes: readonly ServerNode[]) {
    this.#loop = this.#run();
  }
  async #master(): Promise<ServerNode | undefined> {
    for (const node of this.nodes) {
      const role = (await redisCommand(node, ['ROLE']).catch(() => undefined)) as unknown[] | undefined;
      if (role?.[0] === 'master') return node;
    }
    return undefined;
  }
  async #run(): Promise<void> {
    while (this.#running) {
      const target = await this.#master();
      if (target === undefined) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        continue;
      }
      const client = createClient({
        socket: { host: target.host, port: target.port, reconnectStrategy: false },
        disableOfflineQueue: true,
      });
      client.on('error', () => undefined);
      try {
        await client.connect();
        while (this.#running) {
          const seq = ++this.#seq;
          const reply: unknown = await client.sendCommand(['SET', `w:${seq}`, '1']);
          if (reply !== 'OK') break;
          this.acked.push({ seq, at: Date.now(), port: target.port });
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      } catch {
        // not acknowledged: nothing is promised about this write
      } finally {
        client.destroy();
      }
    }
  }
  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }
  /** The longest time between two acknowledged writes (the write-unavailability window). */
  longestGapMs(): number {
    return Math.max(0, ...this.acked.slice(1).map((w, i) => w.at - (this.acked[i]?.at ?? w.at)));
  }
}

function healthy(
  clusterId: string,
  node: ServerNode,
  role: 'primary' | 'replica',
  source: string | undefined,
  now: number,
): NodeState {
  return {
    clusterId,
    nodeId: node.nodeId,
    engine: 'redis',
    role,
    status: 'HEALTHY',
    statusSince: now,
    statusReason: 'healthy',
    seq: 10,
    lastHeartbeatAt: now,
    lastProgressAt: now,
    healthyStreak: 5,
    observers: {},
    deadlineAt: now + 30_000,
    sweepShard: sweepShardOf(clusterId, node.nodeId, TABLE.sweepShards),
    version: 5,
    ...(source ? { sourceNodeId: source } : {}),
  };
}

async function seed(
  table: TestTable,
  clusterId: string,
  redis: RedisTopology,
  meta: Record<string, unknown> = {},
) {
  const now = Date.now();
  const states = [
    healthy(clusterId, redis.primary, 'primary', undefined, now),
    ...redis.replicas.map((r) => healthy(clusterId, r, 'replica', redis.primary.nodeId, now)),
  ];
  for (const s of states)
    await table.client.send(
      new PutCommand({
        TableName: table.tableName,
        Item: { ...s, PK: keys.clusterPk(clusterId), SK: keys.nodeSk(s.nodeId), type: 'node' },
      }),
    );
  await table.client.send(
    new PutCommand({
      TableName: table.tableName,
      Item: {
        PK: keys.clusterPk(clusterId),
        SK: keys.clusterMetaSk,
        type: 'cluster',
        mode: 'auto',
        epoch: 3,
        primaryNodeId: redis.primary.nodeId,
        nodes: [redis.primary, ...redis.replicas].map((n) => n.endpoint),
        ...meta,
      },
    }),
  );
}

/** The run's states with the catch-up polls folded into one AwaitCatchUp. */
const folded = (run: RunbookRun) =>
  run.states.filter(
    (s, i) => s !== 'WaitForCatchUp' && !(s === 'AwaitCatchUp' && run.states[i - 2] === 'AwaitCatchUp'),
  );

describe('switchover on real Redis servers', () => {
  let table: TestTable | undefined;
  const topologies: RedisTopology[] = [];
  afterAll(async () => {
    for (const t of topologies) await t.stop();
    await table?.drop();
  });

  const start = async (clusterId: string, meta: Record<string, unknown> = {}) => {
    table ??= await createTestTable('switchover');
    const redis = await startRedisTopology({ replicas: 2 });
    topologies.push(redis);
    await seed(table, clusterId, redis, meta);
    const { steps, recovery, notifier } = stepsFor(table, hooks);
    const runs: Promise<RunbookRun>[] = [];
    const launcher = {
      async start(incident: Incident) {
        runs.push(
          runRunbook('primary-switchover', runbookInput(incident), {
            steps,
            approvals: never,
            retryIntervalOverrides: { Verify: 200 },
          }),
        );
        return { note: 'started' };
      },
    };
    const deps = {
      recovery,
      nodes: table.store,
      incidents: new DynamoIncidentStore(table.client, table.tableName),
      launcher,
      clock: Date.now,
    };
    return { redis, recovery, notifier, deps, runs, table };
  };

  it('moves the primary role to the asked-for replica with every acknowledged write, the old primary following it', async () => {
    const { redis, recovery, deps, runs } = await start('sw-redis');
    const [other, target] = redis.replicas as [ServerNode, ServerNode];
    const writer = new Writer([redis.primary, ...redis.replicas]);
    await waitFor('the writer to get going', async () => writer.acked.length >= 100);

    const started = await startSwitchover(deps, 'sw-redis', {
      by: 'test',
      reason: 'maintenance',
      to: target.nodeId,
    });
    expect(started).toMatchObject({ from: redis.primary.nodeId, to: target.nodeId });
    const run = await runs[0];
    await waitFor(
      'the writer to write to the new primary',
      async () => writer.acked.at(-1)?.port === target.port,
    );
    await writer.stop();

    expect(run?.status).toBe('SUCCEEDED');
    expect(folded(run as RunbookRun)).toEqual(
      flowPath(SWITCHOVER_FLOW, ['proceed', 'locked', 'auto', 'done', 'caught-up', 'done', 'done', 'done']),
    );
    const cluster = await recovery.getCluster('sw-redis');
    expect(cluster).toMatchObject({ primaryNodeId: target.nodeId, epoch: 4 });
    expect(cluster.lockIncidentId).toBeUndefined();
    expect(cluster.lastRecoveryAt).toBeUndefined(); // a switchover starts no cooldown
    const incident = await recovery.getIncident('sw-redis', started.incidentId, started.openedAt);
    console.log(
      (incident?.runbookSteps ?? [])
        .map((st) => `${new Date(st.at).toISOString().slice(11, 23)} ${st.step}: ${st.detail}`)
        .join('\n'),
    );
    expect(incident).toMatchObject({
      kind: 'SWITCHOVER',
      state: 'RESOLVED',
      request: { by: 'test', reason: 'maintenance' },
    });

    // The servers: the target is master; the old primary and the other replica follow it.
    expect(((await redisCommand(target, ['ROLE'])) as unknown[])[0]).toBe('master');
    await waitFor('the old primary to follow the new one', () => follows(redis.primary, target));
    await waitFor('the other replica to follow the new one', () => follows(other, target));
    // Every acknowledged write is on the new primary.
    const seqs = writer.acked.map((w) => w.seq);
    const values = (await redisCommand(target, ['MGET', ...seqs.map((s) => `w:${s}`)])) as (string | null)[];
    const missing = seqs.filter((_, i) => values[i] === null);
    expect(missing).toEqual([]);
    expect(writer.acked.some((w) => w.port === redis.primary.port)).toBe(true);
    console.log(
      `switchover (redis): ${writer.acked.length} acknowledged writes, 0 lost, longest write gap ${writer.longestGapMs()} ms`,
    );
  });

  it('refuses what must not be done, before anything is written: unknown node, the primary, a noPromote node, a held lock', async () => {
    const { redis, deps, runs, table: t } = await start('sw-refuse');
    const [, target] = redis.replicas as [ServerNode, ServerNode];
    await t.client.send(
      new PutCommand({
        TableName: t.tableName,
        Item: {
          PK: keys.clusterPk('sw-refuse'),
          SK: keys.clusterMetaSk,
          type: 'cluster',
          mode: 'auto',
          epoch: 3,
          primaryNodeId: redis.primary.nodeId,
          nodes: [redis.primary, ...redis.replicas].map((n) => ({
            ...n.endpoint,
            ...(n === target ? { noPromote: true } : {}),
          })),
        },
      }),
    );
    const ask = (to?: string) => startSwitchover(deps, 'sw-refuse', { by: 'test', ...(to ? { to } : {}) });
    await expect(ask('redis-9')).rejects.toThrow(/unknown node redis-9/);
    await expect(ask(redis.primary.nodeId)).rejects.toThrow(/already the primary/);
    await expect(ask(target.nodeId)).rejects.toThrow(/noPromote/);
    await expect(startSwitchover(deps, 'no-such-cluster', { by: 'test' })).rejects.toThrow(
      RequestRefusedError,
    );
    expect(runs).toHaveLength(0);
    expect(((await redisCommand(redis.primary, ['ROLE'])) as unknown[])[0]).toBe('master');
  });

  it('calls the switchover off and gives the old primary its writes back when the candidate does not catch up', async () => {
    const { redis, recovery, deps, runs } = await start('sw-slow');
    const [, target] = redis.replicas as [ServerNode, ServerNode];
    // The target stops applying the replication stream (its link stays up): it cannot reach the final position.
    await redisCommand(target, ['CLIENT', 'PAUSE', '120000', 'WRITE']);
    await redisCommand(redis.primary, ['SET', 'before', '1']);
    const started = await startSwitchover(deps, 'sw-slow', { by: 'test', to: target.nodeId });
    const run = await runs[0];
    await redisCommand(target, ['CLIENT', 'UNPAUSE']);

    expect(run?.status).toBe('SUCCEEDED');
    expect(folded(run as RunbookRun)).toEqual(
      flowPath(SWITCHOVER_FLOW, ['proceed', 'locked', 'auto', 'done', 'timed-out']),
    );
    const incident = await recovery.getIncident('sw-slow', started.incidentId, started.openedAt);
    expect(incident?.state).toBe('RESOLVED');
    expect((incident as { outcome?: string } | undefined)?.outcome).toMatch(/^switchover called off: /);
    const cluster = await recovery.getCluster('sw-slow');
    expect(cluster).toMatchObject({ primaryNodeId: redis.primary.nodeId, epoch: 3 });
    expect(cluster.lockIncidentId).toBeUndefined();
    // The old primary takes writes again at once.
    expect(await redisCommand(redis.primary, ['SET', 'after', '1'])).toBe('OK');
    expect(((await redisCommand(target, ['ROLE'])) as unknown[])[0]).toBe('slave');
  });
});
