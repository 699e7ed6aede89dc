import { describe, expect } from '@jest/globals';
import { startRepointHook } from './support/repoint-hook';
import {
  chaosScenario,
  deadIncident,
  eventually,
  redisFollows,
  redisRole,
  stepsOf,
} from './support/scenario';

/**
 * The failover's Repoint step fails after Promote (the repoint webhook answers 500 once): a half-finished
 * failover, the other replica still following the dead primary. It must roll forward: the failover is
 * resumed (or the replica following the wrong source is repointed) and the other replica ends following
 * the new primary, which is recorded as the cluster's primary.
 */
describe('chaos: repoint failing after promote, then resumed', () => {
  chaosScenario(
    'repoint-resume',
    'redis',
    'the other replica ends following the new primary',
    async (ctx) => {
      let hook: Awaited<ReturnType<typeof startRepointHook>> | undefined;
      const cluster = await ctx.startCluster({
        engine: 'redis',
        mode: 'auto',
        prepare: async (topology) => {
          hook = await startRepointHook(topology, 1);
          ctx.defer(() => hook?.close());
          return { repoint: { type: 'https', url: hook.url } };
        },
      });
      const { stack, topology, writer, primary, replicas } = cluster;
      const checkpoint = await cluster.checkpoint();
      await topology.kill(primary);

      const dead = await deadIncident(stack, primary);
      const failed = await stack.waitForIncident(
        'the Repoint step to fail after Promote',
        (i) => i.incidentId === dead.incidentId && stepsOf(i).includes('promoted') && i.state === 'FAILED',
      );
      const promoted = topology.node(failed.plan?.candidate as string);
      const other = replicas.find((r) => r !== promoted);
      if (other === undefined) throw new Error('no other replica');
      expect(hook?.calls[0]?.status).toBe(500);
      expect(await redisRole(promoted)).toBe('master');

      // Rolled forward: the other replica follows the new primary, which the cluster records.
      await eventually(
        `${other.nodeId} to follow ${promoted.nodeId}`,
        () => redisFollows(other, promoted),
        90_000,
      );
      await stack.waitForNode(
        `${other.nodeId} HEALTHY, following ${promoted.nodeId}`,
        other.nodeId,
        (n) => n.status === 'HEALTHY' && n.sourceNodeId === promoted.nodeId,
      );
      await eventually(
        'the writer to write to the promoted node',
        async () => writer.target === promoted.nodeId,
      );
      ctx.expectInvariants(await cluster.invariants(checkpoint));
    },
  );
});
