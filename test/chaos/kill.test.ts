import { describe, expect } from '@jest/globals';
import type { ChaosEngine } from './support/engines';
import { chaosScenario, eventually, notificationLines, redisFollows } from './support/scenario';

/**
 * The primary is SIGKILLed under a steady stream of writes: it is declared DEAD by quorum and failed over
 * in `auto`; the writer finds the promoted replica and goes on; no write the replicas had applied before
 * the crash is lost (an asynchronous primary may take the last few to its grave: those are not promised).
 */
describe('chaos: kill the primary', () => {
  for (const engine of ['redis', 'postgresql', 'mariadb'] as const satisfies readonly ChaosEngine[]) {
    chaosScenario(
      'kill',
      engine,
      'SIGKILLed primary → failover, no write the replicas had is lost',
      async (ctx) => {
        const cluster = await ctx.startCluster({ engine, mode: 'auto' });
        const { stack, topology, writer, primary, replicas } = cluster;
        await writer.waitForAcks(50);
        const checkpoint = await cluster.checkpoint();
        await topology.kill(primary);

        const incident = await stack.waitForIncident(
          `a DEAD incident for ${primary.nodeId}`,
          (i) => i.nodeId === primary.nodeId && i.kind === 'DEAD',
        );
        expect(incident.severity).toBe('critical');
        expect(incident.runbook).toBe('primary-failover');
        expect(await stack.waitForRunbook(incident)).toMatch(/: SUCCEEDED \(.*Fence → Promote/);
        const resolved = await stack.waitForIncident(
          `the DEAD incident of ${primary.nodeId} to be resolved`,
          (i) => i.incidentId === incident.incidentId && i.state === 'RESOLVED',
        );
        const promotedId = resolved.plan?.candidate;
        expect(replicas.map((r) => r.nodeId)).toContain(promotedId);
        const promoted = topology.node(promotedId as string);

        // The servers: the promoted node is the only writable primary, the other replica follows it.
        await eventually(`${promoted.nodeId} to be writable`, () =>
          topology.driver.writable(promoted.address),
        );
        if (engine === 'redis') {
          for (const other of replicas.filter((r) => r !== promoted))
            await eventually(`${other.nodeId} to follow ${promoted.nodeId}`, () =>
              redisFollows(other, promoted),
            );
        }
        // The application went on: writes acknowledged by the new primary.
        await eventually(
          'the writer to write to the promoted node',
          async () => writer.target === promoted.nodeId,
        );
        await writer.waitForAcks(20);

        // Told: the DEAD incident opened (critical) and the runbook's completion.
        const told = notificationLines(stack, primary.nodeId);
        expect(told).toEqual(expect.arrayContaining([expect.stringMatching(/^incident-opened critical/)]));
        expect(told).toEqual(
          expect.arrayContaining([expect.stringMatching(/^runbook-completed .*promoted/)]),
        );

        ctx.expectInvariants(await cluster.invariants(checkpoint));
        ctx.note(`${promoted.nodeId} promoted`);
      },
    );
  }
});
