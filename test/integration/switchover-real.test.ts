import { afterAll, describe, expect, it } from '@jest/globals';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { createClient } from 'redis';
import { localCredentials } from '../../functions/adapters/hooks';
import { DynamoIncidentStore } from '../../functions/adapters/incident-store';
import { recoveryHooks } from '../../functions/adapters/recovery-hooks';
import { RequestRefusedError, startSwitchover } from '../../functions/adapters/switchover-starter';
import type { Incident } from '../../functions/core/incidents';
import type { NodeState } from '../../functions/core/node-state';
import type { ApprovalDecision } from '../../functions/core/runbook';
import { flowPath, SWITCHOVER_FLOW } from '../../functions/core/runbook-flows';
import { follows } from '../../local/redis-servers';
import { type RunbookRun, runRunbook } from '../../local/runbook-runner';
import { createTestTable, type TestTable } from '../support/dynamodb';
import { storedNode } from '../support/node-states';
import { runbookInput, stepsFor } from '../support/runbooks';
import {
  mysqlQuery,
  type PrimaryReplicaPair,
  pgQuery,
  type RedisTopology,
  redisCommand,
  type ServerNode,
  startMariaDbPair,
  startPostgresPair,
  startRedisTopology,
  waitFor,
} from '../support/servers';
import { putClusterItem, putNodeState } from '../support/table-items';

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

/** A HEALTHY Redis node as the store holds it, replicating from `source` when given. */
const healthy = (
  clusterId: string,
  node: ServerNode,
  role: 'primary' | 'replica',
  source: string | undefined,
  now: number,
): NodeState =>
  storedNode(node.nodeId, role, now, { clusterId, ...(source ? { sourceNodeId: source } : {}) });

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
  for (const s of states) await putNodeState(table, clusterId, s);
  await putClusterItem(table, clusterId, {
    mode: 'auto',
    epoch: 3,
    primaryNodeId: redis.primary.nodeId,
    nodes: [redis.primary, ...redis.replicas].map((n) => n.endpoint),
    ...meta,
  });
}

/**
 * What startSwitchover needs on the test table: its launcher runs primary-switchover from the synthesized
 * state machine with the real steps and built-in hooks, keeping each run in `runs`.
 */
function switchoverOn(table: TestTable) {
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
  return { recovery, notifier, deps, runs };
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
    const { recovery, notifier, deps, runs } = switchoverOn(table);
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
    await putClusterItem(t, 'sw-refuse', {
      mode: 'auto',
      epoch: 3,
      primaryNodeId: redis.primary.nodeId,
      nodes: [redis.primary, ...redis.replicas].map((n) => ({
        ...n.endpoint,
        ...(n === target ? { noPromote: true } : {}),
      })),
    });
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

/** A client inserting rows 1, 2, 3… into whichever server takes writes, as an application account would. */
class SqlWriter {
  readonly acked: { seq: number; at: number; port: number }[] = [];
  #seq = 0;
  #running = true;
  #loop: Promise<void>;
  constructor(
    private readonly open: (
      node: ServerNode,
    ) => Promise<{ insert(seq: number): Promise<void>; close(): void }>,
    private readonly nodes: readonly ServerNode[],
  ) {
    this.#loop = this.#run();
  }
  async #run(): Promise<void> {
    let index = 0;
    while (this.#running) {
      const target = this.nodes[index++ % this.nodes.length] as ServerNode;
      const session = await this.open(target).catch(() => undefined);
      if (session === undefined) continue;
      try {
        while (this.#running) {
          const seq = ++this.#seq;
          await session.insert(seq);
          this.acked.push({ seq, at: Date.now(), port: target.port });
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      } catch {
        // refused (read-only, in recovery) or cut: not acknowledged, try the next server
        await new Promise((resolve) => setTimeout(resolve, 20));
      } finally {
        session.close();
      }
    }
  }
  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }
}

const SQL = {
  postgresql: {
    start: startPostgresPair,
    async setup(primary: ServerNode) {
      await pgQuery(primary, 'CREATE TABLE IF NOT EXISTS sw_writes (seq bigint PRIMARY KEY)');
    },
    async open(node: ServerNode) {
      const client = new pg.Client({
        host: node.host,
        port: node.port,
        user: 'postgres',
        database: 'postgres',
      });
      client.on('error', () => undefined);
      await client.connect();
      return {
        insert: async (seq: number) => {
          await client.query('INSERT INTO sw_writes (seq) VALUES ($1)', [seq]);
        },
        close: () => void client.end().catch(() => undefined),
      };
    },
    async present(node: ServerNode): Promise<Set<number>> {
      const rows = await pgQuery<{ seq: string }>(node, 'SELECT seq FROM sw_writes');
      return new Set(rows.map((r) => Number(r.seq)));
    },
  },
  mariadb: {
    start: startMariaDbPair,
    async setup(primary: ServerNode) {
      // The application's account: no SUPER / READ_ONLY ADMIN, so read_only stops it (root writes through).
      for (const sql of [
        'CREATE DATABASE IF NOT EXISTS sw',
        'CREATE TABLE IF NOT EXISTS sw.writes (seq BIGINT PRIMARY KEY)',
        "CREATE USER IF NOT EXISTS 'app'@'127.0.0.1'",
        "GRANT SELECT, INSERT ON sw.* TO 'app'@'127.0.0.1'",
      ])
        await mysqlQuery(primary, sql);
    },
    async open(node: ServerNode) {
      const connection = await mysql.createConnection({ host: node.host, port: node.port, user: 'app' });
      connection.on('error', () => undefined);
      return {
        insert: async (seq: number) => {
          await connection.query('INSERT INTO sw.writes (seq) VALUES (?)', [seq]);
        },
        close: () => connection.destroy(),
      };
    },
    async present(node: ServerNode): Promise<Set<number>> {
      const rows = await mysqlQuery(node, 'SELECT seq FROM sw.writes');
      return new Set(rows.map((r) => Number(r.seq)));
    },
  },
} as const;

describe.each(['postgresql', 'mariadb'] as const)('switchover on a real %s pair', (engine) => {
  let table: TestTable | undefined;
  let pair: PrimaryReplicaPair | undefined;
  afterAll(async () => {
    await pair?.stop();
    await table?.drop();
  });

  it('promotes the replica with every acknowledged write, the old primary stopped from writing', async () => {
    table = await createTestTable(`switchover-${engine}`);
    pair = await SQL[engine].start();
    const { primary, replica } = pair;
    await SQL[engine].setup(primary);
    const clusterId = `sw-${engine}`;
    const now = Date.now();
    for (const s of [
      { ...healthy(clusterId, primary, 'primary', undefined, now), engine },
      { ...healthy(clusterId, replica, 'replica', primary.nodeId, now), engine },
    ])
      await putNodeState(table, clusterId, s);
    await putClusterItem(table, clusterId, {
      mode: 'auto',
      epoch: 1,
      primaryNodeId: primary.nodeId,
      nodes: [primary.endpoint, replica.endpoint],
    });
    const { recovery, deps, runs } = switchoverOn(table);
    const writer = new SqlWriter(SQL[engine].open, [primary, replica]);
    await waitFor('the writer to get going', async () => writer.acked.length >= 50);

    const started = await startSwitchover(deps, clusterId, { by: 'test', reason: 'maintenance' });
    expect(started).toMatchObject({ from: primary.nodeId, to: replica.nodeId });
    const run = await runs[0];
    await waitFor(
      'the writer to write to the new primary',
      async () => writer.acked.at(-1)?.port === replica.port,
    );
    await writer.stop();

    expect(run?.status).toBe('SUCCEEDED');
    expect(folded(run as RunbookRun)).toEqual(
      flowPath(SWITCHOVER_FLOW, ['proceed', 'locked', 'auto', 'done', 'caught-up', 'done', 'done', 'done']),
    );
    expect(await recovery.getCluster(clusterId)).toMatchObject({ primaryNodeId: replica.nodeId, epoch: 2 });
    const present = await SQL[engine].present(replica);
    expect(writer.acked.filter((w) => !present.has(w.seq)).map((w) => w.seq)).toEqual([]);
    expect(writer.acked.some((w) => w.port === primary.port)).toBe(true);
    // The old primary takes no writes from the application any more.
    const old = await SQL[engine].open(primary).catch(() => undefined);
    await expect(
      old ? old.insert(-1).finally(() => old.close()) : Promise.reject(new Error('closed')),
    ).rejects.toThrow();
    const incident = await recovery.getIncident(clusterId, started.incidentId, started.openedAt);
    const detail = incident?.runbookSteps?.find((s) => s.step === 'old-primary')?.detail ?? '';
    if (engine === 'mariadb') {
      expect(detail).toMatch(/Repointed/);
      await waitFor('the old primary to replicate from the new one', async () => {
        const [status] = await mysqlQuery(primary, 'SHOW SLAVE STATUS');
        return (
          status?.Master_Port === replica.port &&
          status?.Slave_IO_Running === 'Yes' &&
          status?.Slave_SQL_Running === 'Yes'
        );
      });
    } else expect(detail).toMatch(/stays read-only .* rebuild hook/);
    console.log(`switchover (${engine}): ${writer.acked.length} acknowledged writes, 0 lost`);
  });
});
