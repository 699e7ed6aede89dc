import { describe, expect } from '@jest/globals';
import {
  chaosScenario,
  deadIncident,
  eventually,
  redisFollows,
  redisRole,
  stepsOf,
} from './support/scenario';

/**
 * Mode `approve`: the primary dies, approval is requested; before anyone answers, the primary comes back
 * (restarted with its data) and is healthy. An approval given afterwards must not demote it: the run
 * re-verifies with fresh evidence and aborts, saying why.
 */
describe('chaos: approval after the primary came back', () => {
  chaosScenario(
    'approve-after-return',
    'redis',
    'approve once the primary is back → the run aborts, nothing demoted',
    async (ctx) => {
      const cluster = await ctx.startCluster({ engine: 'redis', mode: 'approve', persistent: true });
      const { stack, topology, primary, replicas } = cluster;
      const checkpoint = await cluster.checkpoint();
      await topology.kill(primary);
      const dead = await deadIncident(stack, primary);
      await stack.waitForIncident(
        'the approval request',
        (i) => i.incidentId === dead.incidentId && stepsOf(i).includes('approval-requested'),
      );

      await topology.restart(primary);
      for (const replica of replicas)
        await eventually(`${replica.nodeId} to follow ${primary.nodeId} again`, () =>
          redisFollows(replica, primary),
        );
      await stack.waitForNode(
        `${primary.nodeId} HEALTHY again`,
        primary.nodeId,
        (n) => n.status === 'HEALTHY',
      );

      await stack.decide(dead.incidentId, true);
      await stack.waitForRunbook(dead);
      const after = await stack.waitForIncident(
        'the run to be recorded',
        (i) => i.incidentId === dead.incidentId,
      );
      // Fence re-judged the evidence after the approval: the primary is alive, nothing was done.
      expect(stepsOf(after)).toContain('approved');
      expect(stepsOf(after)).toContain('aborted-alive');
      expect(stepsOf(after)).not.toContain('fenced');
      expect(stepsOf(after)).not.toContain('promoted');
      expect(after.runbookSteps?.find((s) => s.step === 'aborted-alive')?.detail).toMatch(
        /^not fenced: .*(alive|HEALTHY|not dead)/i,
      );
      // The servers: the primary is still the primary, the replicas still follow it.
      expect(await redisRole(primary)).toBe('master');
      for (const replica of replicas) expect(await redisFollows(replica, primary)).toBe(true);
      ctx.expectInvariants(await cluster.invariants(checkpoint));
    },
  );
});
