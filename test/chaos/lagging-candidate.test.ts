import { describe, expect } from '@jest/globals';
import { redisCommand, redisInfo } from '../support/servers';
import { chaosScenario, deadIncident, eventually, redisRole, toldBy } from './support/scenario';
import type { ChaosIncident } from './support/stack';
import { serverNode } from './support/topology';

/**
 * One replica is write-paused (it receives the stream, applies nothing) and falls behind; the other is
 * marked `noPromote` and has everything. The primary dies. Promoting the lagging replica would repoint the
 * only complete copy to it and wipe what it alone holds: the failover must not happen; a human is paged
 * with the data at stake, and the noPromote replica keeps its data.
 */
describe('chaos: lagging candidate with a noPromote replica ahead', () => {
  chaosScenario('lagging-candidate', 'redis', 'no promotion, a page, the complete copy kept', async (ctx) => {
    const cluster = await ctx.startCluster({
      engine: 'redis',
      mode: 'auto',
      nodeOptions: { 'redis-3': { noPromote: true } },
      // The pause must outlast the primary: no replica recovery gets to unpause it first.
      policy: { stallAfterSeconds: 120 },
    });
    const { stack, topology, writer, primary } = cluster;
    const lagging = topology.node('redis-2');
    const complete = topology.node('redis-3');
    await cluster.checkpoint();
    await redisCommand(serverNode(lagging), ['CLIENT', 'PAUSE', '120000', 'WRITE']);
    const pausedAt = BigInt((await redisInfo(serverNode(lagging))).get('slave_repl_offset') ?? '0');
    // The primary goes on taking writes; the complete replica applies them, the paused one does not.
    await writer.waitForAcks(60);
    const checkpoint = await cluster.checkpoint([complete]);
    await eventually(
      'the paused replica to be behind',
      async () =>
        BigInt((await redisInfo(serverNode(complete))).get('slave_repl_offset') ?? '0') > pausedAt + 1000n,
    );
    await topology.kill(primary);

    const dead = await deadIncident(stack, primary);
    // The run refuses, pages and re-arms (it looks again while the block lasts): wait for the refusal.
    await stack.waitForIncident(
      'the failover to be refused',
      (i) =>
        i.incidentId === dead.incidentId && (i.runbookSteps ?? []).some((s) => s.step === 'no-candidate'),
    );
    // First what matters most: the writes only the noPromote replica held are still somewhere.
    ctx.expectInvariants(await cluster.invariants(checkpoint, 10_000));
    const refused = (await stack.incidents()).find((i) => i.incidentId === dead.incidentId);
    expect(refused?.outcome).toMatch(/noPromote|no eligible|refused|ahead/i);
    expect(toldBy(refused as ChaosIncident)).toMatch(/redis-3/);
    expect(
      stack.notifications.some(
        (n) =>
          n.metadata.threadId === dead.incidentId &&
          n.metadata.additionalContext.severity === 'critical' &&
          n.metadata.eventType.startsWith('runbook-'),
      ),
    ).toBe(true);
    // Nothing promoted while the noPromote replica holds data the candidate lacks.
    expect(await redisRole(lagging)).toBe('slave');
    expect(await redisRole(complete)).toBe('slave');
    await redisCommand(serverNode(lagging), ['CLIENT', 'UNPAUSE']);
  });
});
