import { describe, expect } from '@jest/globals';
import { chaosScenario, deadIncident, eventually, redisRole, stepsOf, toldBy } from './support/scenario';

/**
 * After a failover the cluster is in its cooldown (`recoveryBlockSeconds`); the new primary dies inside
 * it. The failover is not dropped: the incident says "waiting: cooldown until <time>", and when the
 * cooldown ends the failover starts by itself and promotes the last replica.
 */
describe('chaos: second death inside the cooldown', () => {
  chaosScenario('cooldown', 'redis', 'waiting: cooldown until T, then the failover', async (ctx) => {
    const cluster = await ctx.startCluster({
      engine: 'redis',
      mode: 'auto',
      policy: { recoveryBlockSeconds: 20 },
    });
    const { stack, topology, writer, primary, replicas } = cluster;
    await cluster.checkpoint();
    await topology.kill(primary);
    const first = await deadIncident(stack, primary);
    const done = await stack.waitForIncident(
      'the first failover to complete',
      (i) => i.incidentId === first.incidentId && i.state === 'RESOLVED' && i.plan?.candidate !== undefined,
    );
    const promoted = topology.node(done.plan?.candidate as string);
    const last = replicas.find((r) => r !== promoted);
    if (last === undefined) throw new Error('no replica left');
    await eventually(
      'the writer to write to the promoted node',
      async () => writer.target === promoted.nodeId,
    );
    const checkpoint = await cluster.checkpoint([last]);
    await topology.kill(promoted);

    const second = await deadIncident(stack, promoted);
    const waiting = await stack.waitForIncident(
      'the incident to say it waits for the cooldown',
      (i) => i.incidentId === second.incidentId && /waiting: cooldown until/i.test(toldBy(i)),
    );
    expect(waiting.state).toBe('OPEN');
    const recovered = await stack.waitForIncident(
      'the failover to start once the cooldown ended, and complete',
      (i) => i.incidentId === second.incidentId && i.state === 'RESOLVED' && stepsOf(i).includes('promoted'),
      90_000,
    );
    expect(recovered.plan?.candidate).toBe(last.nodeId);
    expect(await redisRole(last)).toBe('master');
    ctx.expectInvariants(await cluster.invariants(checkpoint));
  });
});
