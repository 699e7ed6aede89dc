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
 * failover, the other replica still following the dead primary. It must roll forward: the new primary is
 * on record before Repoint, the failover completes saying which replica it could not repoint, that replica
 * becomes a WRONG_SOURCE node whose own incident repoints it (the webhook's second call works), and it ends
 * following the new primary.
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
      const failover = await stack.waitForIncident(
        'the failover to complete with a failed repoint recorded',
        (i) =>
          i.incidentId === dead.incidentId &&
          i.state === 'RESOLVED' &&
          stepsOf(i).some((step) => step.startsWith('repoint-failed-')),
      );
      const promoted = topology.node(failover.plan?.candidate as string);
      const other = replicas.find((r) => r !== promoted);
      if (other === undefined) throw new Error('no other replica');
      expect(stepsOf(failover)).toContain(`repoint-failed-${other.nodeId}`);
      // The new primary went on record right after Promote, before the failed Repoint.
      expect(stepsOf(failover).indexOf('cluster-updated')).toBeLessThan(
        stepsOf(failover).indexOf(`repoint-failed-${other.nodeId}`),
      );
      expect(hook?.calls[0]?.status).toBe(500);
      expect(await redisRole(promoted)).toBe('master');
      // The replica left on the old primary raises its own incident, which repoints it.
      const wrongSource = await stack.waitForIncident(
        `a WRONG_SOURCE incident for ${other.nodeId}`,
        (i) => i.nodeId === other.nodeId && (i.kind as string) === 'WRONG_SOURCE',
      );
      expect(wrongSource.runbook).toBe('replica-recovery');

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
