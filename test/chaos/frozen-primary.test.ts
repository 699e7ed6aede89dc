import { describe, expect } from '@jest/globals';
import { chaosScenario, deadIncident, eventually, redisRole, stepsOf, toldBy } from './support/scenario';

/**
 * The primary hangs (SIGSTOP: its port still accepts connections, nothing answers), then is killed. While
 * it hangs it cannot be fenced, so no promotion may rely on it being dead; once it is killed its port
 * refuses connections (positively not serving) and the failover must happen. A run that failed on the
 * hung node must not leave the cluster blind (lock held, node FENCED, no incident for the kill).
 */
describe('chaos: frozen primary, then killed', () => {
  chaosScenario('frozen-primary', 'redis', 'SIGSTOP then SIGKILL → the failover happens', async (ctx) => {
    const cluster = await ctx.startCluster({ engine: 'redis', mode: 'auto' });
    const { stack, topology, writer, primary, replicas } = cluster;
    const checkpoint = await cluster.checkpoint();
    topology.freeze(primary);

    const dead = await deadIncident(stack, primary);
    // Let the run decide about the hung node (it may refuse, wait, or fail), then kill it.
    await stack.waitForIncident(
      'the failover run to reach Fence or a refusal',
      (i) =>
        i.incidentId === dead.incidentId &&
        (stack.runbookLine(i) !== undefined ||
          /fenced|refused|waiting|blocked|failed/.test(stepsOf(i).join(' '))),
    );
    await topology.kill(primary);

    const promotedId = await stack.until(
      'a replica to be promoted after the kill',
      async () => {
        for (const replica of replicas) if ((await redisRole(replica)) === 'master') return replica.nodeId;
        return undefined;
      },
      90_000,
    );
    const promoted = topology.node(promotedId);
    await stack.waitForNode(
      `${promoted.nodeId} to be the HEALTHY primary`,
      promoted.nodeId,
      (n) => n.role === 'primary' && n.status === 'HEALTHY',
    );
    // The run refused while the node hung (it could not be asked), re-armed, and failed over once the kill
    // made its port refuse connections.
    const recovered = await stack.waitForIncident(
      'the failover to complete',
      (i) => i.nodeId === primary.nodeId && i.state === 'RESOLVED' && stepsOf(i).includes('promoted'),
    );
    expect(stepsOf(recovered)).toContain('fence-refused');
    const incidents = (await stack.incidents()).filter((i) => i.nodeId === primary.nodeId);
    expect(incidents.map(toldBy).join('\n')).not.toMatch(/lock stays held/);
    await eventually(
      'the writer to write to the promoted node',
      async () => writer.target === promoted.nodeId,
    );
    ctx.expectInvariants(await cluster.invariants(checkpoint));
  });
});
