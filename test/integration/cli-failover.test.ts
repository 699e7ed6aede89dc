import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { documentClient } from '../../functions/adapters/clients';
import type { NodeState } from '../../functions/core/node-state';
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
 * `replica-sentinel failover` and `recover` against a local stack and real Redis servers whose primary is
 * SIGKILLed: the operator's request is the decision (no approval, in any mode), `--to` is honoured, the
 * data-at-risk gates refuse a lagging replica unless `--force` (then the loss is stated and recorded), a
 * failover that failed after it moved the epoch is finished by `recover`, and bad requests exit 2 with one
 * line and change nothing.
 *
 * The node items are written as the pipeline would hold them (the dead primary silent for two hours, the
 * replicas reporting, a long heartbeat timeout so that they stay live for the whole test); the servers are
 * real, and every runbook step acts on them.
 */
let stack: LocalStack | undefined;
const topologies: RedisTopology[] = [];
const stopped: number[] = [];

/** The stack's table, through a new client. */
const table = () => ({
  client: documentClient({ ...LOCAL_AWS, endpoint: stack?.dynamodbEndpoint ?? '' }),
  tableName: stack?.tableName ?? '',
});
const meta = (clusterId: string) => getClusterItem(table(), clusterId);
const incidents = (clusterId: string) => incidentItems(table(), clusterId);
const role = async (node: ServerNode) => ((await redisCommand(node, ['ROLE'])) as unknown[])[0];

const putNode = (clusterId: string, state: NodeState) => putNodeState(table(), clusterId, state);

/** A Redis primary and two replicas, the cluster item (its mode, policy and nodes), every node HEALTHY. */
async function cluster(
  clusterId: string,
  options: { mode: string; policy?: Record<string, unknown>; noPromote?: string[] },
) {
  const redis = await startRedisTopology({ replicas: 2 });
  topologies.push(redis);
  const now = Date.now();
  const far = { clusterId, deadlineAt: now + 3_600_000 };
  await putNode(clusterId, storedNode(redis.primary.nodeId, 'primary', now, { ...far, position: '1000' }));
  for (const replica of redis.replicas)
    await putNode(
      clusterId,
      storedNode(replica.nodeId, 'replica', now, {
        ...far,
        sourceNodeId: redis.primary.nodeId,
        appliedPosition: '1000',
      }),
    );
  await putClusterItem(table(), clusterId, {
    mode: options.mode,
    epoch: 2,
    primaryNodeId: redis.primary.nodeId,
    policy: { heartbeatTimeoutSeconds: 3600, heartbeatIntervalSeconds: 10, ...options.policy },
    nodes: [redis.primary, ...redis.replicas].map((n) =>
      options.noPromote?.includes(n.nodeId) ? { ...n.endpoint, noPromote: true } : n.endpoint,
    ),
  });
  return redis;
}

/**
 * SIGKILLs the primary and records it as the pipeline would: DEAD, silent for two hours (the timeout is one
 * hour). `announce` writes it as a status change (the table stream hands it to on-transition, which opens
 * the incident and starts the automatic failover by the cluster's mode).
 */
async function killPrimary(clusterId: string, redis: RedisTopology, announce: boolean) {
  await redis.kill(redis.primary);
  const now = Date.now();
  await putNode(
    clusterId,
    storedNode(redis.primary.nodeId, 'primary', now, {
      clusterId,
      status: 'DEAD',
      statusReason: 'no report for 7200s and 2/2 views confirm',
      lastHeartbeatAt: now - 7_200_000,
      deadlineAt: now + 3_600_000,
      position: '1000',
      // The probe's last look: it could not reach it.
      observers: { 'watch@test': { seq: 99, observedAt: now - 5000, reachable: false } },
      version: 9,
      ...(announce ? { transitionTo: 'DEAD', transitionFrom: 'SILENT' } : {}),
    }),
  );
}

const failover = (...args: string[]) =>
  cli(['failover', '--endpoint', stack?.url ?? '', '--as', 'sre-1', ...args]);
const recover = (...args: string[]) =>
  cli(['recover', '--endpoint', stack?.url ?? '', '--as', 'sre-1', ...args]);

beforeAll(async () => {
  stack = await startRunbookStack('cli-failover', 3_600_000);
}, 120_000);

afterAll(async () => {
  for (const pid of stopped) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // already gone
    }
  }
  for (const redis of topologies) await redis.stop();
  await stack?.stop();
});

describe('replica-sentinel failover', () => {
  it('takes over an approve-mode failover awaiting approval on a paused cluster: the asked-for replica is promoted without approval, recorded with who and why', async () => {
    const redis = await cluster('mf-approve', { mode: 'approve' });
    const [other, target] = redis.replicas as [ServerNode, ServerNode];
    await killPrimary('mf-approve', redis, true);
    await waitFor(
      'the automatic failover to wait for an approval',
      async () =>
        (await incidents('mf-approve')).some((i) =>
          (i.runbookSteps ?? []).some((s: { step: string }) => s.step === 'approval-requested'),
        ),
      { timeoutMs: 60_000 },
    );
    const [automatic] = await incidents('mf-approve');
    // Paused as well: the operator's request is the decision, a pause does not hold it.
    const paused = await cli([
      'pause',
      '--cluster',
      'mf-approve',
      '--reason',
      'hands off',
      '--endpoint',
      stack?.url ?? '',
      '--as',
      'sre-1',
    ]);
    expect(paused.code).toBe(0);

    const result = await failover(
      '--cluster',
      'mf-approve',
      '--reason',
      'redis-1 host lost',
      '--to',
      target.nodeId,
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`takes over incident ${automatic?.incidentId}`);
    expect(result.stdout).toMatch(/completed: recovered: redis-3 promoted at epoch 3, redis-2 repointed/);
    expect(await meta('mf-approve')).toMatchObject({ primaryNodeId: target.nodeId, pausedBy: 'local:sre-1' });
    expect(await role(target)).toBe('master');
    await waitFor('redis-2 to follow redis-3', () => follows(other, target));

    const [incident] = await incidents('mf-approve');
    expect(incident).toMatchObject({
      incidentId: automatic?.incidentId,
      state: 'RESOLVED',
      attempt: 1,
      request: { by: 'local:sre-1', reason: 'redis-1 host lost', to: target.nodeId },
    });
    expect((incident?.runbookSteps ?? []).map((s: { step: string }) => s.step)).not.toContain('approved');

    const history = await cli(['history', '--cluster', 'mf-approve', '--endpoint', stack?.url ?? '']);
    expect(history.code).toBe(0);
    expect(history.stdout).toMatch(
      /epoch 3 .* redis-1 → redis-3 {2}by local:sre-1 through runbook primary-failover .*why: manual failover: redis-1 host lost; redis-1 was DEAD/,
    );
  }, 180_000);

  it('refuses a healthy primary ("use switchover") and bad requests with exit 2, one line, nothing written; refuses a lagging --to on fresh state (exit 1) and promotes it with --force, stating the data at risk', async () => {
    const redis = await cluster('mf-gates', {
      mode: 'off',
      policy: { maxLagOnFailover: 10 },
      noPromote: ['redis-2'],
    });
    const [ahead, lagging] = redis.replicas as [ServerNode, ServerNode];
    const before = await meta('mf-gates');
    const healthy = await failover('--cluster', 'mf-gates', '--reason', 'try');
    expect(healthy.code).toBe(2);
    expect(healthy.stderr.trim().split('\n')).toHaveLength(1);
    expect(healthy.stderr).toMatch(/the primary redis-1 is not dead .*use switchover/);

    await killPrimary('mf-gates', redis, false);
    // redis-3 applied 900 bytes less than redis-1's last report and redis-2 (maxLagOnFailover 10).
    const now = Date.now();
    await putNode(
      'mf-gates',
      storedNode(lagging.nodeId, 'replica', now, {
        clusterId: 'mf-gates',
        deadlineAt: now + 3_600_000,
        sourceNodeId: redis.primary.nodeId,
        appliedPosition: '100',
        version: 8,
      }),
    );
    const cases: [string[], RegExp][] = [
      [['--cluster', 'mf-gates'], /--reason is required/],
      [['--reason', 'x'], /--cluster is required/],
      [['--cluster', 'nope', '--reason', 'x'], /unknown cluster 'nope'/],
      [['--cluster', 'mf-gates', '--reason', 'x', '--to', 'redis-9'], /unknown node redis-9/],
      [['--cluster', 'mf-gates', '--reason', 'x', '--to', ahead.nodeId], /redis-2 is marked noPromote/],
      [['--cluster', 'mf-gates', '--reason', 'x', '--to', 'redis-1'], /the dead primary itself/],
      [['--cluster', 'mf-gates', '--reason', 'x', '--bogus'], /bogus/],
    ];
    for (const [args, message] of cases) {
      const result = await failover(...args);
      expect([args.join(' '), result.code]).toEqual([args.join(' '), 2]);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(message);
    }
    expect(await meta('mf-gates')).toEqual(before);
    expect(await incidents('mf-gates')).toEqual([]);

    const dry = await failover('--cluster', 'mf-gates', '--reason', 'x', '--to', lagging.nodeId, '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/dry run: failover refused, nothing would be promoted: .*maxLagOnFailover/);
    expect(await incidents('mf-gates')).toEqual([]);

    const refused = await failover('--cluster', 'mf-gates', '--reason', 'x', '--to', lagging.nodeId);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(
      /no-candidate: failover refused, nothing fenced or promoted: .*maxLagOnFailover/,
    );
    expect(await role(lagging)).toBe('slave');
    expect((await meta('mf-gates'))?.epoch).toBe(2);

    const forced = await failover(
      '--cluster',
      'mf-gates',
      '--reason',
      'redis-2 is a reporting replica, take the loss',
      '--to',
      lagging.nodeId,
      '--force',
    );
    expect(forced.stderr).toBe('');
    expect(forced.code).toBe(0);
    expect(forced.stdout).toMatch(/completed: recovered: redis-3 promoted at epoch 3/);
    expect(forced.stdout).toMatch(
      /FORCED by local:sre-1 .*data at risk if redis-3 is promoted: 900 bytes of replication stream behind/,
    );
    expect((await meta('mf-gates'))?.primaryNodeId).toBe(lagging.nodeId);
    expect(await role(lagging)).toBe('master');
    const [incident] = await incidents('mf-gates');
    expect(incident).toMatchObject({
      state: 'RESOLVED',
      attempt: 1,
      request: { by: 'local:sre-1', to: lagging.nodeId, force: true },
      plan: {
        candidate: lagging.nodeId,
        forced: { by: 'local:sre-1', reason: 'redis-2 is a reporting replica, take the loss' },
      },
    });
    expect(incident?.plan?.dataAtRisk).toMatch(/900 bytes/);
    expect(
      stack?.notifications.some((n) =>
        n.content.description.includes('failover forced: FORCED by local:sre-1'),
      ),
    ).toBe(true);
  }, 180_000);
});

describe('replica-sentinel recover', () => {
  it('finishes a failover that failed after it moved the epoch, with the candidate it chose; refuses a resolved incident', async () => {
    const redis = await cluster('mf-recover', { mode: 'auto' });
    const [other, target] = redis.replicas as [ServerNode, ServerNode];
    await killPrimary('mf-recover', redis, false);
    // The candidate stops answering (SIGSTOP): Fence passes (the old primary refuses connections), the epoch
    // moves, Promote cannot reach it and the run fails with the lock held.
    process.kill(target.pid, 'SIGSTOP');
    stopped.push(target.pid);
    const started = await failover(
      '--cluster',
      'mf-recover',
      '--reason',
      'redis-1 gone',
      '--to',
      target.nodeId,
      '--no-wait',
      '--json',
    );
    expect(started.code).toBe(0);
    const { incidentId } = JSON.parse(started.stdout) as { incidentId: string };
    await waitFor(
      'the failover to fail after it moved the epoch',
      async () => (await incidents('mf-recover'))[0]?.state === 'FAILED',
      { timeoutMs: 150_000 },
    );
    expect(await meta('mf-recover')).toMatchObject({ epoch: 3, lockIncidentId: incidentId });
    expect((await incidents('mf-recover'))[0]?.outcome).toMatch(/the cluster lock stays held/);

    const busy = await failover('--cluster', 'mf-recover', '--reason', 'again');
    expect(busy.code).toBe(2);
    expect(busy.stderr).toMatch(/a failover is half done: incident .* recover it/);

    process.kill(target.pid, 'SIGCONT');
    const recovered = await recover(incidentId, '--cluster', 'mf-recover', '--reason', 'redis-3 is back');
    expect(recovered.stderr).toBe('');
    expect(recovered.code).toBe(0);
    expect(recovered.stdout).toMatch(/resuming|re-runs primary-failover/);
    expect(recovered.stdout).toMatch(/completed: recovered: redis-3 promoted at epoch 3/);
    // The epoch moved once for the whole failover.
    const after = await meta('mf-recover');
    expect(after).toMatchObject({ epoch: 3, primaryNodeId: target.nodeId });
    expect(after).not.toHaveProperty('lockIncidentId');
    expect(await role(target)).toBe('master');
    await waitFor('redis-2 to follow redis-3', () => follows(other, target));
    const [incident] = await incidents('mf-recover');
    expect(incident).toMatchObject({ state: 'RESOLVED', attempt: 1 });
    expect(
      (incident?.runbookSteps ?? []).some(
        (s: { step: string; detail: string }) => s.step === 'plan' && /resuming with redis-3/.test(s.detail),
      ),
    ).toBe(true);

    const closed = await recover(incidentId, '--cluster', 'mf-recover', '--reason', 'again');
    expect(closed.code).toBe(2);
    expect(closed.stderr.trim().split('\n')).toHaveLength(1);
    expect(closed.stderr).toMatch(/^replica-sentinel: recover refused \(HTTP 409\): incident .* is closed/);
    const missing = await recover('nope', '--cluster', 'mf-recover', '--reason', 'x');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/incident nope of cluster mf-recover does not exist/);
    const noReason = await recover(incidentId, '--cluster', 'mf-recover');
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/--reason is required/);
  }, 300_000);
});
