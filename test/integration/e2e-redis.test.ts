import { describe, expect, it } from '@jest/globals';
import {
  expectFailedOver,
  expectStallRecovered,
  incidentRun,
  useE2e,
  waitForHealthyPrimary,
} from '../support/e2e';
import { redisCommand, redisInfo, type ServerNode, startRedisTopology, waitFor } from '../support/servers';

/**
 * The whole pipeline on real Redis servers: a primary and two replicas on 127.0.0.1, probed by `watch`, fed
 * through the local stack; the stall and the crash are caused on the servers, and the outcome is read back
 * from the servers' own INFO replication.
 */
describe('end to end on real Redis: stall and failover', () => {
  const fixture = useE2e(
    () => startRedisTopology({ replicas: 2 }),
    async (redis) => ({ clusterId: 'e2e-redis', engine: 'redis', nodes: [redis.primary, ...redis.replicas] }),
  );
  /** The replica that keeps up, and the one paused in the first test. */
  const replicas = () => fixture.servers.replicas as [ServerNode, ServerNode];

  it('reports a replica paused with CLIENT PAUSE WRITE as STALLED, and the auto runbook brings it back', async () => {
    const { e2e, servers: redis } = fixture;
    const [, stalled] = replicas();
    await e2e.waitForStatus(stalled.nodeId, 'HEALTHY');
    await redisCommand(stalled, ['CLIENT', 'PAUSE', '120000', 'WRITE']);
    for (let i = 0; i < 100; i++) await redisCommand(redis.primary, ['SET', `during-stall-${i}`, String(i)]);

    const stall = await incidentRun(e2e, stalled.nodeId, 'STALLED');
    // The runbook (mode auto) restarted replication on the replica itself (CLIENT UNPAUSE): it caught up.
    expectStallRecovered(stall, /has not advanced for .* while the source is at/);
    expect(stall.resolved.runbookSteps?.find((s) => s.step === 'restarted')?.detail).toContain(
      'CLIENT UNPAUSE',
    );
    await e2e.waitForStatus(stalled.nodeId, 'HEALTHY');
    expect(await redisCommand(stalled, ['GET', 'during-stall-99'])).toBe('99');
    // The other replica kept applying: it never stalled (a loaded machine may still delay a probe round).
    const others = (await e2e.incidents()).filter((i) => i.nodeId !== stalled.nodeId);
    expect(others.filter((i) => i.kind === 'STALLED' || i.kind === 'DEAD')).toEqual([]);
  });

  it('declares the SIGKILLed primary DEAD, fails over, and the servers follow the promoted replica', async () => {
    const { e2e, servers: redis } = fixture;
    const [healthy, stalled] = replicas();
    // Both replicas have applied everything written so far (the probe keeps writing its heartbeat key).
    const offset = BigInt((await redisInfo(redis.primary)).get('master_repl_offset') ?? 'x');
    for (const replica of redis.replicas) {
      await waitFor(
        `${replica.nodeId} to apply everything`,
        async () => BigInt((await redisInfo(replica)).get('slave_repl_offset') ?? '-1') >= offset,
      );
    }
    await redis.kill(redis.primary);

    const failover = await incidentRun(e2e, redis.primary.nodeId, 'DEAD');
    const promotedId = expectFailedOver(failover, /views confirm: .*cannot reach redis-1.*link down/);
    expect([healthy.nodeId, stalled.nodeId]).toContain(promotedId);
    const [promoted, other] = (promotedId === healthy.nodeId ? [healthy, stalled] : [stalled, healthy]) as [
      ServerNode,
      ServerNode,
    ];

    // The servers themselves: the promoted replica is a master, the other replicates from it.
    expect((await redisInfo(promoted)).get('role')).toBe('master');
    await waitFor(`${other.nodeId} to follow ${promoted.nodeId}`, async () => {
      const info = await redisInfo(other);
      return (
        info.get('role') === 'slave' &&
        info.get('master_port') === String(promoted.port) &&
        info.get('master_link_status') === 'up'
      );
    });
    await redisCommand(promoted, ['SET', 'after-failover', 'yes']);
    await waitFor(
      'a write on the new primary to reach the other replica',
      async () => (await redisCommand(other, ['GET', 'after-failover'])) === 'yes',
    );
    // And the monitor sees the new topology through its probe.
    await waitForHealthyPrimary(e2e, promoted.nodeId);
  });
});
