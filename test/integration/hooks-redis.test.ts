import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TransientError } from '../../functions/adapters/errors';
import {
  createHookRunner,
  localCredentials,
  NodeUnreachableError,
  replicationProgress,
  verifyPrimary,
} from '../../functions/adapters/hooks/index';
import { HookFailedError } from '../../functions/core/hooks';
import { maxPosition } from '../../functions/core/position-comparison';
import { parsePosition } from '../../functions/core/position-parsing';
import { NotYetPrimaryError } from '../../functions/core/runbook';
import { hookRequests } from '../support/hook-requests';
import {
  type RedisTopology,
  redisCommand,
  redisInfo,
  type ServerNode,
  startRedisTopology,
  waitFor,
} from '../support/servers';

const EPOCH = 7;
const hooks = createHookRunner({ credentials: localCredentials });

const request = hookRequests({
  clusterId: 'orders-redis',
  engine: 'redis',
  incidentId: 'incident-redis-1',
  epoch: EPOCH,
});

async function offsets(
  replica: ServerNode,
  primary: ServerNode,
): Promise<{ applied: number; source: number }> {
  const [replicaInfo, primaryInfo] = await Promise.all([redisInfo(replica), redisInfo(primary)]);
  return {
    applied: Number(replicaInfo.get('slave_repl_offset')),
    source: Number(primaryInfo.get('master_repl_offset')),
  };
}

describe('built-in Redis hooks on a real primary and two replicas', () => {
  let topology: RedisTopology;
  let oldPrimary: ServerNode;
  let promoted: ServerNode;
  let other: ServerNode;

  beforeAll(async () => {
    topology = await startRedisTopology({ replicas: 2 });
    oldPrimary = topology.primary;
  });
  afterAll(async () => {
    await topology?.stop();
  });

  it('restartReplication resumes a replica stalled by CLIENT PAUSE WRITE, and its offset advances again', async () => {
    const [, stalled] = topology.replicas;
    if (stalled === undefined) throw new Error('expected two replicas');
    await redisCommand(stalled, ['CLIENT', 'PAUSE', '60000', 'WRITE']);
    await redisCommand(oldPrimary, ['SET', 'before-stall', '1']);
    await waitFor('the primary to move past the stalled replica', async () => {
      const { applied, source } = await offsets(stalled, oldPrimary);
      return source > applied;
    });
    const stuckAt = (await offsets(stalled, oldPrimary)).applied;

    const result = await hooks.run(request('restartReplication', stalled, oldPrimary), undefined);

    expect(result).toEqual({ status: 'done', detail: expect.stringContaining('CLIENT UNPAUSE') });
    await waitFor('the stalled replica to catch up', async () => {
      const { applied, source } = await offsets(stalled, oldPrimary);
      return applied > stuckAt && applied === source;
    });
    expect(await redisCommand(stalled, ['GET', 'before-stall'])).toBe('1');
  });

  it('promotes the most advanced replica after the primary is killed, and promoting twice is harmless', async () => {
    await topology.kill(oldPrimary);
    const positions = await Promise.all(
      topology.replicas.map(async (replica) =>
        parsePosition('redis', await replicationProgress('redis', replica.endpoint, undefined)),
      ),
    );
    const best = maxPosition(positions);
    const chosen = topology.replicas[best === undefined ? 0 : positions.indexOf(best)];
    const rest = topology.replicas.find((replica) => replica !== chosen);
    if (chosen === undefined || rest === undefined) throw new Error('expected two replicas');
    promoted = chosen;
    other = rest;

    const first = await hooks.run(request('promote', promoted), { type: 'builtin' });
    const second = await hooks.run(request('promote', promoted), undefined);

    expect(first.detail).toMatch(/Promoted .* REPLICAOF NO ONE; ROLE reports master/);
    expect(second.detail).toMatch(/already a master/);
    expect((await redisInfo(promoted)).get('role')).toBe('master');
  });

  it('repoints the other replica to the promoted one, which then has one linked replica', async () => {
    const result = await hooks.run(request('repoint', other, promoted), undefined);

    expect(result.detail).toContain(`REPLICAOF 127.0.0.1 ${promoted.port}`);
    await waitFor('the repointed replica to link up', async () => {
      const info = await redisInfo(other);
      return info.get('master_port') === String(promoted.port) && info.get('master_link_status') === 'up';
    });
    await waitFor('the promoted node to count one replica', async () => {
      return (await redisInfo(promoted)).get('connected_slaves') === '1';
    });
    expect((await redisCommand(other, ['CONFIG', 'GET', 'replica-read-only'])) as unknown).toEqual(
      expect.objectContaining({ 'replica-read-only': 'yes' }),
    );
  });

  it('repointing again is a no-op that says the replica already follows the primary', async () => {
    const result = await hooks.run(request('repoint', other, promoted), undefined);

    expect(result.detail).toMatch(/already replicates from redis-\d \(127\.0\.0\.1:\d+\)/);
  });

  it('fences the dead old primary as unreachable, fenced by the epoch', async () => {
    const result = await hooks.run(request('fence', oldPrimary, promoted), undefined);

    expect(result.status).toBe('done');
    expect(result.detail).toMatch(/unreachable \(ECONNREFUSED\).*fenced by epoch 7/);
  });

  it('verifyPrimary passes on the promoted node and throws NotYetPrimaryError on a replica and a dead node', async () => {
    await expect(verifyPrimary('redis', promoted.endpoint, undefined)).resolves.toBeUndefined();
    await expect(verifyPrimary('redis', other.endpoint, undefined)).rejects.toThrow(NotYetPrimaryError);
    await expect(verifyPrimary('redis', oldPrimary.endpoint, undefined)).rejects.toThrow(NotYetPrimaryError);
  });

  it('verifyPrimary writes replica-sentinel:verify and reads it back: the value is new each time and replicates', async () => {
    await verifyPrimary('redis', promoted.endpoint, undefined);
    const first = await redisCommand(promoted, ['GET', 'replica-sentinel:verify']);
    await verifyPrimary('redis', promoted.endpoint, undefined);
    const second = await redisCommand(promoted, ['GET', 'replica-sentinel:verify']);

    expect(typeof first).toBe('string');
    expect(second).not.toEqual(first);
    await waitFor(
      'the verify write to reach the replica',
      async () => (await redisCommand(other, ['GET', 'replica-sentinel:verify'])) === second,
    );
  });

  it('verifyPrimary rejects a master whose writes are paused (CLIENT PAUSE 5000 WRITE) and passes once unpaused', async () => {
    await redisCommand(promoted, ['CLIENT', 'PAUSE', '5000', 'WRITE']);
    try {
      expect((await redisInfo(promoted)).get('role')).toBe('master');
      const error = await verifyPrimary('redis', promoted.endpoint, undefined).catch(
        (caught: unknown) => caught,
      );

      expect(error).toBeInstanceOf(NotYetPrimaryError);
      expect((error as Error).message).toMatch(
        /reports master but did not acknowledge a write \(SET replica-sentinel:verify\) within 3000 ms: its writes are paused/,
      );
    } finally {
      await redisCommand(promoted, ['CLIENT', 'UNPAUSE']);
    }
    await expect(verifyPrimary('redis', promoted.endpoint, undefined)).resolves.toBeUndefined();
  });

  it('verifyPrimary rejects a master that refuses writes (min-replicas-to-write not met)', async () => {
    await redisCommand(promoted, ['CONFIG', 'SET', 'min-replicas-to-write', '5']);
    try {
      await expect(verifyPrimary('redis', promoted.endpoint, undefined)).rejects.toThrow(
        /reports master but refused a write \(SET replica-sentinel:verify\): NOREPLICAS/,
      );
    } finally {
      await redisCommand(promoted, ['CONFIG', 'SET', 'min-replicas-to-write', '0']);
    }
  });

  it('a write on the new primary reaches the repointed replica', async () => {
    await redisCommand(promoted, ['SET', 'after-failover', 'yes']);

    await waitFor(
      'the write to replicate',
      async () => (await redisCommand(other, ['GET', 'after-failover'])) === 'yes',
    );
    const [replicaPosition, primaryPosition] = await Promise.all([
      replicationProgress('redis', other.endpoint, undefined),
      replicationProgress('redis', promoted.endpoint, undefined),
    ]);
    expect(replicaPosition).toMatch(/^[0-9a-f]{40}:[0-9]+$/);
    expect(replicaPosition.split(':')[0]).toBe(primaryPosition.split(':')[0]);
  });

  it('fences a live old primary by making it a read-only replica of the new primary, idempotently', async () => {
    const stray = await startRedisTopology({ replicas: 0 });
    try {
      await redisCommand(stray.primary, ['SET', 'split-brain', 'write']);

      const first = await hooks.run(request('fence', stray.primary, promoted), undefined);
      const second = await hooks.run(request('fence', stray.primary, promoted), undefined);

      expect(first.detail).toMatch(
        /Demoted old primary .* REPLICAOF 127\.0\.0\.1 \d+: it now refuses writes/,
      );
      expect(second.detail).toMatch(/already a replica of/);
      expect((await redisInfo(stray.primary)).get('role')).toBe('slave');
      await expect(redisCommand(stray.primary, ['SET', 'split-brain', 'again'])).rejects.toThrow(/READONLY/);
    } finally {
      await stray.stop();
    }
  });

  it('refuses to fence a live old primary without the new primary to demote it to', async () => {
    await expect(hooks.run(request('fence', promoted), undefined)).rejects.toThrow(
      /cannot be made read-only, only demoted with REPLICAOF/,
    );
  });

  it('reports an unreachable target of promote as a transient NodeUnreachableError', async () => {
    const error = await hooks
      .run(request('promote', oldPrimary), undefined)
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(NodeUnreachableError);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).name).toBe('TransientError');
  });

  it('has no built-in rebuild', async () => {
    await expect(hooks.run(request('rebuild', other, promoted), undefined)).rejects.toThrow(HookFailedError);
  });
});
