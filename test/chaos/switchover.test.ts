import { describe, expect } from '@jest/globals';
import type { ChaosEngine } from './support/engines';
import { chaosScenario, eventually, redisFollows, stepsOf } from './support/scenario';

/** POST /clusters/{cluster}/switchover on the local stack, as `replica-sentinel switchover` does. */
async function askSwitchover(
  url: string,
  clusterId: string,
  body: Record<string, unknown>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(new URL(`/clusters/${encodeURIComponent(clusterId)}/switchover`, url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-replica-sentinel-user': 'chaos' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/**
 * A planned switchover under a steady stream of writes: the requested replica becomes the primary, the
 * old primary follows it, and not one acknowledged write is lost (all of them are checked on the new
 * primary, not only those replicated before the switchover). The longest time between two acknowledged
 * writes is the scenario's note.
 */
describe('chaos: planned switchover', () => {
  for (const engine of ['redis'] as const satisfies readonly ChaosEngine[]) {
    chaosScenario(
      'switchover',
      engine,
      'the asked-for replica takes over, the old primary follows it, no acknowledged write is lost',
      async (ctx) => {
        const cluster = await ctx.startCluster({ engine, mode: 'auto' });
        const { stack, topology, writer, primary, replicas } = cluster;
        const target = replicas[replicas.length - 1];
        if (target === undefined) throw new Error('no replica to switch over to');
        await writer.waitForAcks(30);

        // A bad request changes nothing: unknown node, the primary itself.
        const unknown = await askSwitchover(stack.stack.url, stack.clusterId, {
          to: 'nope',
          reason: 'chaos',
        });
        expect(unknown.status).toBe(409);
        expect(String(unknown.body.message)).toMatch(/unknown node nope/);
        const self = await askSwitchover(stack.stack.url, stack.clusterId, {
          to: primary.nodeId,
          reason: 'chaos',
        });
        expect(self.status).toBe(409);
        expect(String(self.body.message)).toMatch(/already the primary/);
        expect((await stack.incidents()).filter((i) => i.kind === 'SWITCHOVER')).toEqual([]);

        stack.mark(`switchover to ${target.nodeId}`);
        const asked = await askSwitchover(stack.stack.url, stack.clusterId, {
          to: target.nodeId,
          reason: 'chaos: planned maintenance of the old primary',
        });
        expect(asked).toMatchObject({ status: 200, body: { from: primary.nodeId, to: target.nodeId } });
        const incidentId = String(asked.body.incidentId);
        const done = await stack.waitForIncident(
          `the switchover ${incidentId} to end`,
          (i) => i.incidentId === incidentId && i.state !== 'OPEN',
        );
        expect(await stack.waitForRunbook(done)).toMatch(
          /: SUCCEEDED \(.*StopWrites → AwaitCatchUp.*Promote → UpdateCluster → DemoteOld → Repoint → Verify → Complete/,
        );
        expect(done.state).toBe('RESOLVED');
        expect(done.outcome).toMatch(/^switched over/);
        expect(stepsOf(done)).toEqual(
          expect.arrayContaining(['writes-stopped', 'caught-up', 'promoted', 'old-primary', 'completed']),
        );

        // The servers: the target is the only writable primary, the old primary and the other replica follow it.
        await eventually(`${target.nodeId} to be writable`, () => topology.driver.writable(target.address));
        for (const other of [primary, ...replicas.filter((r) => r !== target)])
          await eventually(`${other.nodeId} to follow ${target.nodeId}`, () => redisFollows(other, target));
        await eventually(
          'the writer to write to the new primary',
          async () => writer.target === target.nodeId,
        );
        await writer.waitForAcks(20);

        // Every acknowledged write, up to the last one, is on the new primary.
        await writer.stop();
        const last = writer.lastAcked();
        const report = await cluster.invariants(last);
        ctx.expectInvariants(report);
        expect(report.protectedWrites).toBe(writer.acked.length);
        expect(report.missing).toBe(0);

        const gaps = writer.acked.slice(1).map((w, i) => w.at - (writer.acked[i]?.at ?? w.at));
        ctx.note(`to ${target.nodeId}; longest write gap ${Math.max(...gaps)} ms`);
      },
    );
  }
});
