import { describe, expect } from '@jest/globals';
import { redisCommand } from '../support/servers';
import { chaosScenario, deadIncident, eventually, redisRole, stepsOf } from './support/scenario';
import { serverNode } from './support/topology';

/**
 * A replica recovery is running (it restarted a stalled replica and waits to verify its progress, holding
 * the cluster lock) when the primary dies. The failover must still happen: it preempts the replica
 * recovery, or waits for it and starts when it ends — never dropped.
 */
describe('chaos: primary dies during a replica recovery', () => {
  chaosScenario('recovery-then-death', 'redis', 'the failover still happens', async (ctx) => {
    const cluster = await ctx.startCluster({ engine: 'redis', mode: 'auto', verifyAfterSeconds: 20 });
    const { stack, topology, writer, primary, replicas } = cluster;
    const stalled = replicas[1];
    if (stalled === undefined) throw new Error('no second replica');
    await redisCommand(serverNode(stalled), ['CLIENT', 'PAUSE', '60000', 'WRITE']);
    const stall = await stack.waitForIncident(
      `a STALLED incident for ${stalled.nodeId}`,
      (i) => i.nodeId === stalled.nodeId && i.kind === 'STALLED',
    );
    // The recovery restarted replication and is waiting to verify: it holds the lock now.
    await stack.waitForIncident(
      'the replica recovery to restart replication',
      (i) => i.incidentId === stall.incidentId && stepsOf(i).includes('restarted'),
    );
    const checkpoint = await cluster.checkpoint();
    await topology.kill(primary);

    const dead = await deadIncident(stack, primary);
    const done = await stack.waitForIncident(
      'the failover to complete',
      (i) => i.incidentId === dead.incidentId && i.state === 'RESOLVED' && stepsOf(i).includes('promoted'),
      90_000,
    );
    const promoted = topology.node(done.plan?.candidate as string);
    expect(await redisRole(promoted)).toBe('master');
    await eventually(
      'the writer to write to the promoted node',
      async () => writer.target === promoted.nodeId,
    );
    ctx.expectInvariants(await cluster.invariants(checkpoint));
  });
});
