import { describe, expect, it } from '@jest/globals';
import { OperatorStore } from '../../functions/adapters/operator-store';
import type { ApprovalDecision } from '../../functions/core/runbook';
import { createOperations } from '../../functions/operator/operations';
import { MemoryNotifier } from '../../local/memory-notifier';
import { runRunbook } from '../../local/runbook-runner';
import { useTestTable } from '../support/dynamodb';
import { openIncident, runbookInput, ScriptedHooks, seedCluster, stepsFor } from '../support/runbooks';

/** An approver who never answers. */
const never = () => new Promise<ApprovalDecision>(() => undefined);

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * `pause` / `resume` and the failover runbook, from the synthesized state machine with the real steps on
 * DynamoDB Local: a dead primary's failover started while the cluster is paused waits (re-arming, saying
 * who paused and why), and completes with fresh evidence once an operator resumes; the epoch it moves is in
 * the cluster's history.
 */
describe('a paused cluster', () => {
  const table = useTestTable('pause');

  it("holds a dead primary's failover while paused, then fails over after resume, recording the epoch", async () => {
    const now = Date.now();
    await seedCluster(
      table,
      {
        clusterId: 'paused',
        // Rearm looks again every 2 s (2 heartbeat intervals).
        meta: {
          policy: { heartbeatIntervalSeconds: 1 },
          pausedBy: 'local:erin',
          pausedReason: 'storage migration',
          pausedAt: now - 1000,
        },
      },
      now,
    );
    const incident = await openIncident(table, 'paused', 'pg-1', 'primary', 'DEAD', now);
    const hooks = new ScriptedHooks();
    const { steps, notifier, recovery } = stepsFor(table, hooks);
    const input = runbookInput(incident);
    const run = runRunbook('primary-failover', input, {
      steps,
      approvals: never,
      waitTimeOverrides: { WaitForProgress: 0, WaitForSsm: 0 },
    });

    // Paused: the run waits, says who paused and why, and touches nothing; it looks again and again.
    const waiting = await until('the run to wait on the pause', async () =>
      (await recovery.getIncident('paused', input.incidentId, input.openedAt))?.runbookSteps?.find(
        (s) => s.step === 'waiting',
      ),
    );
    expect(waiting.detail).toMatch(/^waiting: automation paused by local:erin: storage migration \(since /);
    const cluster = await recovery.getCluster('paused');
    expect(cluster.lockIncidentId).toBeUndefined();
    expect(cluster.epoch).toBe(7);
    expect(hooks.count('promote')).toBe(0);
    expect(notifier.published.map((n) => n.metadata.additionalContext.reason)).toEqual([
      expect.stringContaining('paused by local:erin: storage migration'),
    ]);

    // An operator resumes through the operator API's operation.
    const operatorNotifier = new MemoryNotifier();
    const operations = createOperations({
      recovery,
      store: new OperatorStore(table.client, table.tableName),
      nodes: table.store,
      tokens: { succeed: async () => undefined },
      executions: { isRunning: async () => false, stop: async () => undefined },
      notifier: operatorNotifier,
      clock: Date.now,
    });
    const resumed = await operations.resume({
      params: { clusterId: 'paused' },
      body: { reason: 'migration done' },
      caller: { id: 'local:erin', via: 'local' },
    });
    expect(resumed.message).toMatch(
      /^paused: automation resumed \(it was paused by local:erin: storage migration\)/,
    );
    expect(operatorNotifier.published.map((n) => n.metadata.eventType)).toEqual(['operator-resume']);

    const result = await run;
    expect(result.status).toBe('SUCCEEDED');
    expect(result.states.slice(0, 4)).toEqual(['ReVerify', 'TakeLock', 'Rearm', 'ReVerify']);
    expect(result.states.at(-2)).toBe('Complete');
    expect(hooks.count('promote')).toBe(1);
    expect(await recovery.getCluster('paused')).toMatchObject({ epoch: 8, primaryNodeId: 'pg-3' });
    expect(await recovery.epochs('paused')).toEqual([
      {
        clusterId: 'paused',
        epoch: 8,
        primaryNodeId: 'pg-3',
        previousPrimaryNodeId: 'pg-1',
        at: expect.any(Number),
        by: `runbook primary-failover (execution ${input.executionName})`,
        incidentId: input.incidentId,
        why: expect.stringMatching(/^pg-1 was DEAD; /),
        dataAtRisk: expect.any(String),
      },
    ]);
  });
});
