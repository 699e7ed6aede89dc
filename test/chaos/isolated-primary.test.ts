import { describe, expect } from '@jest/globals';
import { chaosScenario, deadIncident, eventually, redisFollows, redisRole, toldBy } from './support/scenario';

/**
 * The primary is cut from the monitor and from its replicas (its proxy blackholes), but not from its
 * clients: the writer keeps writing to it, and it keeps acknowledging. The quorum sees it DEAD; it is not.
 *
 * - Default strict fencing: the runbook cannot fence a node it cannot reach, so it must NOT promote; the
 *   incident says the failover was refused (or is blocked) for want of a positive fence, and pages.
 * - `fencing: trust-quorum` (Redis Sentinel's model, opted into): a failover, and once the partition
 *   heals the old primary is demoted to a replica of the new one (the writes it took alone are lost: the
 *   risk the cluster accepted).
 */
describe('chaos: isolated primary still taking writes', () => {
  chaosScenario('isolated-primary', 'redis', 'strict fencing: no promotion, refusal paged', async (ctx) => {
    const cluster = await ctx.startCluster({ engine: 'redis', mode: 'auto' });
    const { stack, topology, writer, primary, replicas } = cluster;
    await cluster.checkpoint();
    topology.isolate(primary);
    const cutAt = Date.now();

    const dead = await deadIncident(stack, primary);
    const refused = await stack.waitForIncident(
      'the failover to be refused or blocked for want of a positive fence',
      (i) => i.incidentId === dead.incidentId && /refused|blocked|waiting/i.test(toldBy(i)),
    );
    expect(toldBy(refused)).toMatch(/fenc/i);
    // Paged: a critical notification of the incident after the refusal.
    expect(
      stack.notifications.some(
        (n) =>
          n.metadata.threadId === dead.incidentId &&
          n.metadata.additionalContext.severity === 'critical' &&
          n.metadata.eventType.startsWith('runbook-'),
      ),
    ).toBe(true);
    // Nobody was promoted; the client kept writing to the isolated primary all along.
    for (const replica of replicas) expect(await redisRole(replica)).toBe('slave');
    expect(writer.acked.filter((w) => w.at > cutAt && w.nodeId === primary.nodeId).length).toBeGreaterThan(0);

    topology.heal(primary);
    for (const replica of replicas)
      await eventually(`${replica.nodeId} to follow ${primary.nodeId} again`, () =>
        redisFollows(replica, primary),
      );
    await stack.waitForNode(`${primary.nodeId} HEALTHY again`, primary.nodeId, (n) => n.status === 'HEALTHY');
    // Every acknowledged write, those made during the partition included, is on the one primary.
    ctx.expectInvariants(await cluster.invariants(writer.lastAcked()));
  });

  chaosScenario(
    'isolated-primary-trust-quorum',
    'redis',
    'trust-quorum: failover, old primary demoted after heal',
    async (ctx) => {
      const cluster = await ctx.startCluster({ engine: 'redis', mode: 'auto', fencing: 'trust-quorum' });
      const { stack, topology, primary, replicas } = cluster;
      const checkpoint = await cluster.checkpoint();
      topology.isolate(primary);

      const dead = await deadIncident(stack, primary);
      const done = await stack.waitForIncident(
        'the failover to complete',
        (i) => i.incidentId === dead.incidentId && i.state === 'RESOLVED' && i.plan?.candidate !== undefined,
      );
      const promoted = topology.node(done.plan?.candidate as string);
      expect(replicas).toContain(promoted);
      expect(await redisRole(promoted)).toBe('master');

      topology.heal(primary);
      await eventually(`${primary.nodeId} to be demoted to a replica of ${promoted.nodeId}`, () =>
        redisFollows(primary, promoted),
      );
      ctx.expectInvariants(await cluster.invariants(checkpoint));
    },
  );
});
