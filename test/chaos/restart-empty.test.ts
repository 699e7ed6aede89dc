import { describe, expect } from '@jest/globals';
import { chaosScenario, eventually, notificationLines, redisFollows } from './support/scenario';

/**
 * A primary without persistence is killed and restarted at once, before anyone declares it dead: it comes
 * back empty, with a new replication id and a reset offset, and its replicas resync to its empty data
 * set. The data is gone; what the product owes is to say so: a critical DATA_LOSS incident naming it.
 */
describe('chaos: restart-empty primary', () => {
  chaosScenario('restart-empty', 'redis', 'a DATA_LOSS incident', async (ctx) => {
    const cluster = await ctx.startCluster({ engine: 'redis', mode: 'auto' });
    const { stack, topology, primary, replicas } = cluster;
    const checkpoint = await cluster.checkpoint();
    await topology.kill(primary);
    await topology.restart(primary);
    for (const replica of replicas)
      await eventually(`${replica.nodeId} to resync from the restarted ${primary.nodeId}`, () =>
        redisFollows(replica, primary),
      );

    // The checks wait (up to 45 s) for an incident to account for the writes the empty restart took.
    const report = await cluster.invariants(checkpoint);
    expect(report.missing).toBeGreaterThan(0); // the writes are gone from every server
    const loss = (await stack.incidents()).find(
      (i) => i.nodeId === primary.nodeId && (i.kind as string) === 'DATA_LOSS',
    );
    expect(loss?.severity).toBe('critical');
    // A critical notification of the loss: the incident opens as DATA_LOSS, or (when a slow probe round made
    // the primary SILENT first) escalates to it.
    expect(notificationLines(stack, primary.nodeId)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^incident-(opened|escalated) critical: .*DATA_LOSS/)]),
    );
    ctx.expectInvariants(report);
  });
});
