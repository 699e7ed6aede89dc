import { describe, expect } from '@jest/globals';
import { chaosScenario, deadIncident, eventually, redisFollows, redisRole } from './support/scenario';

/**
 * After a failover, the old primary is restarted as it was (its own data, no replicaof): it comes back a
 * writable master with stale data. The recorded primary is the truth: a critical SPLIT_BRAIN incident
 * opens at once and, in `auto`, the stale node is demoted to a replica of the new primary.
 */
describe('chaos: returning old primary', () => {
  chaosScenario(
    'returning-primary',
    'redis',
    'old primary restarted as a master → SPLIT_BRAIN, demoted',
    async (ctx) => {
      const cluster = await ctx.startCluster({ engine: 'redis', mode: 'auto', persistent: true });
      const { stack, topology, writer, primary, replicas } = cluster;
      const checkpoint = await cluster.checkpoint();
      await topology.kill(primary);
      const dead = await deadIncident(stack, primary);
      await stack.waitForIncident(
        'the failover to complete',
        (i) => i.incidentId === dead.incidentId && i.state === 'RESOLVED',
      );
      const promoted = topology.node(
        (
          await stack.waitForIncident(
            'the plan',
            (i) => i.incidentId === dead.incidentId && i.plan?.candidate !== undefined,
          )
        ).plan?.candidate as string,
      );
      await eventually(
        'the writer to write to the promoted node',
        async () => writer.target === promoted.nodeId,
      );

      const returnedAt = Date.now();
      await topology.restart(primary);
      expect(await redisRole(primary)).toBe('master'); // it came back as it was

      const splitBrain = await stack.waitForIncident(
        `a SPLIT_BRAIN incident for ${primary.nodeId}`,
        (i) =>
          i.nodeId === primary.nodeId && (i.kind as string) === 'SPLIT_BRAIN' && i.openedAt >= returnedAt,
      );
      expect(splitBrain.severity).toBe('critical');
      // In auto, demoted: it follows the new primary.
      await eventually(`${primary.nodeId} to follow ${promoted.nodeId}`, () =>
        redisFollows(primary, promoted),
      );
      for (const other of replicas.filter((r) => r !== promoted))
        await eventually(`${other.nodeId} to follow ${promoted.nodeId}`, () => redisFollows(other, promoted));
      // FENCED ends once it follows the current primary.
      await stack.waitForNode(
        `${primary.nodeId} to be a HEALTHY replica`,
        primary.nodeId,
        (n) => n.role === 'replica' && n.status === 'HEALTHY',
      );
      expect(writer.target).toBe(promoted.nodeId);
      ctx.expectInvariants(await cluster.invariants(checkpoint));
    },
  );
});
