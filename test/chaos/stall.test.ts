import { describe, expect } from '@jest/globals';
import { redisCommand } from '../support/servers';
import { chaosScenario, eventually, notificationLines, stepsOf } from './support/scenario';
import { serverNode } from './support/topology';

/**
 * A replica stops applying (Redis `CLIENT PAUSE WRITE`: it keeps receiving the stream, applies nothing)
 * while the primary takes writes: STALLED, the replica-recovery runbook restarts it (CLIENT UNPAUSE), it
 * catches up, the incident resolves; nothing happens to the primary.
 */
describe('chaos: stalled replica', () => {
  chaosScenario('stall', 'redis', 'write-paused replica → replica recovery, it catches up', async (ctx) => {
    const cluster = await ctx.startCluster({ engine: 'redis', mode: 'auto' });
    const { stack, writer, primary, replicas } = cluster;
    const stalled = replicas[1] ?? replicas[0];
    if (stalled === undefined) throw new Error('no replica');
    const checkpoint = await cluster.checkpoint();
    await redisCommand(serverNode(stalled), ['CLIENT', 'PAUSE', '60000', 'WRITE']);

    const incident = await stack.waitForIncident(
      `a STALLED incident for ${stalled.nodeId}`,
      (i) => i.nodeId === stalled.nodeId && i.kind === 'STALLED',
    );
    expect(incident.runbook).toBe('replica-recovery');
    expect(await stack.waitForRunbook(incident)).toContain(': SUCCEEDED (');
    const resolved = await stack.waitForIncident(
      `the STALLED incident of ${stalled.nodeId} to be resolved`,
      (i) => i.incidentId === incident.incidentId && i.state === 'RESOLVED',
    );
    expect(stepsOf(resolved)).toEqual(expect.arrayContaining(['restarted', 'progressing', 'completed']));
    // It applies again: the writer's latest write reaches it.
    await writer.waitForAcks(5);
    const last = writer.lastAcked();
    await eventually(`${stalled.nodeId} to apply write ${last}`, async () =>
      (await cluster.topology.driver.present(stalled.address, [last])).has(last),
    );
    await stack.waitForNode(`${stalled.nodeId} HEALTHY again`, stalled.nodeId, (n) => n.status === 'HEALTHY');
    // The primary was never declared dead (a loaded machine may still delay a probe round: SILENT is not
    // asserted away here; the frozen-replica scenario is the one about a slow node blinding the probe).
    expect((await stack.incidents()).filter((i) => i.nodeId === primary.nodeId && i.kind === 'DEAD')).toEqual(
      [],
    );
    expect(notificationLines(stack, stalled.nodeId)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^incident-opened major/)]),
    );
    ctx.expectInvariants(await cluster.invariants(checkpoint));
  });
});
