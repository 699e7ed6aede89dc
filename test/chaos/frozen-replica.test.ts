import { describe, expect } from '@jest/globals';
import { chaosScenario } from './support/scenario';

/**
 * One replica hangs (SIGSTOP) beside a healthy primary. The probe must give the hung node a timeout view
 * for itself only: the primary keeps being reported every round and never goes SILENT (nor DEAD). The
 * window is bounded by events: until the hung replica is declared SILENT and then five more reports of
 * the primary have arrived.
 */
describe('chaos: frozen replica beside a healthy primary', () => {
  chaosScenario('frozen-replica', 'redis', 'the primary never goes SILENT', async (ctx) => {
    const cluster = await ctx.startCluster({ engine: 'redis', mode: 'auto' });
    const { stack, topology, primary, replicas } = cluster;
    const frozen = replicas[1];
    if (frozen === undefined) throw new Error('no second replica');
    const checkpoint = await cluster.checkpoint();
    const seen = new Set<string>();
    let watching = true;
    const observer = (async () => {
      while (watching) {
        const node = await stack.node(primary.nodeId).catch(() => undefined);
        if (node) seen.add(node.status);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    try {
      topology.freeze(frozen);
      await stack.waitForNode(`${frozen.nodeId} to be SILENT`, frozen.nodeId, (n) => n.status === 'SILENT');
      const from = (await stack.node(primary.nodeId))?.lastHeartbeatAt ?? 0;
      let reports = 0;
      let last = from;
      await stack.until('five more reports of the primary', async () => {
        const at = (await stack.node(primary.nodeId))?.lastHeartbeatAt ?? 0;
        if (at > last) {
          reports++;
          last = at;
        }
        return reports >= 5 ? true : undefined;
      });
    } finally {
      watching = false;
      await observer;
      topology.thaw(frozen);
    }
    expect([...seen]).toEqual(['HEALTHY']);
    expect((await stack.incidents()).filter((i) => i.nodeId === primary.nodeId)).toEqual([]);
    await stack.waitForNode(`${frozen.nodeId} HEALTHY again`, frozen.nodeId, (n) => n.status === 'HEALTHY');
    ctx.expectInvariants(await cluster.invariants(checkpoint));
  });
});
