import { describe, expect, it } from '@jest/globals';
import { DynamoIncidentStore } from '../../functions/adapters/incident-store';
import { OperatorStore } from '../../functions/adapters/operator-store';
import { RecoveryStore } from '../../functions/adapters/recovery-store';
import type { HookRequest, HookResult, HookSpec } from '../../functions/core/hooks';
import type { Incident } from '../../functions/core/incidents';
import type { NodeState } from '../../functions/core/node-state';
import type { ApprovalDecision, RunbookState } from '../../functions/core/runbook';
import { flowPath, RECOVERY_FLOW } from '../../functions/core/runbook-flows';
import { createOperations } from '../../functions/operator/operations';
import { MemoryNotifier } from '../../local/memory-notifier';
import { runRunbook } from '../../local/runbook-runner';
import { useTestTable } from '../support/dynamodb';
import { storedNode } from '../support/node-states';
import { runbookInput, ScriptedHooks, seedCluster, stepsFor } from '../support/runbooks';

/**
 * An operator's rejoin and rebuild as replica-recovery runs, from the synthesized state machine with the
 * real steps on DynamoDB Local and scripted hooks that change the node items as a probe would report the
 * servers: the runbook re-checks the request on fresh state (a node fixed meanwhile: "nothing to do"),
 * asks no approval whatever the mode, and a PostgreSQL old primary is demoted, then rebuilt by the hook.
 */
const never = () => new Promise<ApprovalDecision>(() => undefined);

/** Hooks that also "report" what they did: the node's item as the next heartbeat would write it. */
class ReportingHooks extends ScriptedHooks {
  constructor(private readonly after: (request: HookRequest) => Promise<void>) {
    super();
  }
  override async run(request: HookRequest, spec: HookSpec | undefined): Promise<HookResult> {
    const result = await super.run(request, spec);
    await this.after(request);
    return result;
  }
}

describe('rejoin and rebuild runs', () => {
  const table = useTestTable('rejoin');

  /** A cluster with the recorded primary p1 and the given other nodes; starts nothing by itself. */
  async function setup(clusterId: string, others: NodeState[], meta: Record<string, unknown>) {
    const now = Date.now();
    const primary = storedNode('p1', 'primary', now, { clusterId, engine: 'postgresql' });
    await seedCluster(
      table,
      { clusterId, nodes: [primary, ...others], meta: { primaryNodeId: 'p1', ...meta } },
      now,
    );
    const started: Incident[] = [];
    const notifier = new MemoryNotifier();
    const operations = createOperations({
      recovery: new RecoveryStore(table.client, table.tableName),
      store: new OperatorStore(table.client, table.tableName),
      nodes: table.store,
      tokens: { succeed: async () => undefined },
      executions: { isRunning: async () => false, stop: async () => undefined },
      notifier,
      clock: Date.now,
      nodeRequests: {
        incidents: new DynamoIncidentStore(table.client, table.tableName),
        launcher: {
          start: async (incident) => {
            started.push(incident);
            return { note: 'held by the test' };
          },
        },
      },
    });
    return { operations, started, notifier };
  }

  /** Writes the node as its next report would show it (a later heartbeat than anything before). */
  const report = async (node: NodeState, change: Partial<NodeState>) => {
    const current = (await table.getNode(node.clusterId, node.nodeId)) ?? node;
    await table.store.putNode({
      ...current,
      ...change,
      lastHeartbeatAt: Date.now() + 1000,
      version: current.version + 1,
    });
  };

  it('ends "nothing to do" when the node was fixed between the request and the run, touching nothing', async () => {
    const now = Date.now();
    const r3 = storedNode('r3', 'replica', now, {
      clusterId: 'fixed',
      engine: 'postgresql',
      sourceNodeId: 'r2',
    });
    const r2 = storedNode('r2', 'replica', now, {
      clusterId: 'fixed',
      engine: 'postgresql',
      sourceNodeId: 'p1',
    });
    const { operations, started } = await setup('fixed', [r2, r3], {});
    const caller = { id: 'local:erin', via: 'local' } as const;
    const answer = await operations.rejoin({
      params: { clusterId: 'fixed', nodeId: 'r3' },
      body: { reason: 'cascade by mistake' },
      caller,
    });
    expect(answer.message).toMatch(/rejoin of r3 started: r3 follows r2: repoint it to p1/);
    // Someone repointed it by hand meanwhile.
    await report(r3, { sourceNodeId: 'p1', status: 'HEALTHY' });

    const hooks = new ScriptedHooks();
    const { steps, recovery } = stepsFor(table, hooks);
    const incident = started[0] as Incident;
    const result = await runRunbook('replica-recovery', runbookInput(incident), { steps, approvals: never });

    expect(result.states).toEqual(flowPath(RECOVERY_FLOW, ['abort']));
    expect(hooks.calls).toEqual([]);
    const after = await recovery.getIncident('fixed', incident.incidentId, incident.openedAt);
    expect(after).toMatchObject({
      state: 'RESOLVED',
      request: { by: 'local:erin', reason: 'cascade by mistake' },
    });
    expect((after as { outcome?: string }).outcome).toMatch(
      /^nothing to do: r3 already replicates from p1 and is HEALTHY; nothing done \(asked by local:erin \(cascade by mistake\), re-checked on fresh state\)/,
    );
    expect((await recovery.getCluster('fixed')).lockIncidentId).toBeUndefined();
  });

  it('repoints at once in mode approve and while paused: the request is the decision', async () => {
    const now = Date.now();
    const r2 = storedNode('r2', 'replica', now, {
      clusterId: 'asked',
      engine: 'postgresql',
      sourceNodeId: 'x9',
    });
    const { operations, started } = await setup('asked', [r2], {
      mode: 'approve',
      pausedBy: 'local:ops',
      pausedReason: 'migration',
      pausedAt: now,
    });
    await operations.rejoin({
      params: { clusterId: 'asked', nodeId: 'r2' },
      body: { reason: 'source decommissioned' },
      caller: { id: 'local:erin', via: 'local' },
    });
    const hooks = new ReportingHooks(async (request) => {
      if (request.action === 'repoint') await report(r2, { sourceNodeId: request.primary?.nodeId });
    });
    const { steps, recovery } = stepsFor(table, hooks);
    const incident = started[0] as Incident;

    const result = await runRunbook('replica-recovery', runbookInput(incident), { steps, approvals: never });

    expect(result.status).toBe('SUCCEEDED');
    expect(result.states).toEqual(
      flowPath(RECOVERY_FLOW, ['proceed', 'locked', 'rejoin', 'done', 'recovered']),
    );
    expect(hooks.calls.map((c) => `${c.action} ${c.target} ← ${c.primary}`)).toEqual(['repoint r2 ← p1']);
    const after = await recovery.getIncident('asked', incident.incidentId, incident.openedAt);
    expect(after?.state).toBe('RESOLVED');
    expect((after as { outcome?: string }).outcome).toBe(
      'rejoined: r2 replicates from p1 (asked by local:erin)',
    );
    expect((await recovery.getCluster('asked')).lockIncidentId).toBeUndefined();
  });

  it('demotes a PostgreSQL old primary read-only, then rebuilds it with the hook until it follows', async () => {
    const now = Date.now();
    const old = storedNode('p0', 'primary', now, {
      clusterId: 'pg-old',
      engine: 'postgresql',
      status: 'SPLIT_BRAIN',
    });
    const { operations, started } = await setup('pg-old', [old], {
      // A few seconds for the demoted node to report: it never follows by itself (a new timeline).
      policy: { heartbeatIntervalSeconds: 1, heartbeatTimeoutSeconds: 2 },
      hooks: {
        rebuild: { type: 'lambda', functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:rebuild' },
      },
    });
    await operations.rejoin({
      params: { clusterId: 'pg-old', nodeId: 'p0' },
      body: { reason: 'back after the switchover' },
      caller: { id: 'local:erin', via: 'local' },
    });
    const hooks = new ReportingHooks(async (request) => {
      // Demoted: read-only, still a primary of its own timeline. Rebuilt: a standby of p1.
      if (request.action === 'fence') await report(old, { role: 'primary' });
      if (request.action === 'rebuild')
        await report(old, { role: 'replica', sourceNodeId: request.primary?.nodeId, status: 'HEALTHY' });
    });
    const { steps, recovery } = stepsFor(table, hooks);
    const incident = started[0] as Incident;
    expect(incident.kind).toBe('SPLIT_BRAIN');

    const result = await runRunbook('replica-recovery', runbookInput(incident), { steps, approvals: never });

    expect(result.status).toBe('SUCCEEDED');
    expect(result.states.slice(0, 5)).toEqual([
      'ReVerify',
      'TakeLock',
      'Mode',
      'RestartReplication',
      'WaitForProgress',
    ]);
    expect(result.states.slice(-6)).toEqual([
      'VerifyProgress',
      'Escalate',
      'WaitForProgress',
      'VerifyProgress',
      'Complete',
      'Done',
    ]);
    expect(hooks.calls.map((c) => `${c.action} ${c.target}`)).toEqual(['fence p0', 'rebuild p0']);
    const after = await recovery.getIncident('pg-old', incident.incidentId, incident.openedAt);
    expect(after?.state).toBe('RESOLVED');
    expect((after?.runbookSteps ?? []).map((s) => s.step)).toEqual(
      expect.arrayContaining(['demoted', 'not-progressing', 'rebuild', 'progressing', 'completed']),
    );
  });

  it('rebuild starts at the rebuild hook and is judged on the fresh reports', async () => {
    const now = Date.now();
    const r2 = storedNode('r2', 'replica', now, {
      clusterId: 'rebuilt',
      engine: 'postgresql',
      sourceNodeId: 'p1',
    });
    const { operations, started, notifier } = await setup('rebuilt', [r2], {
      mode: 'off',
      hooks: {
        rebuild: { type: 'lambda', functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:rebuild' },
      },
    });
    await operations.rebuild({
      params: { clusterId: 'rebuilt', nodeId: 'r2' },
      body: { reason: 'corrupt pages' },
      caller: { id: 'local:erin', via: 'local' },
    });
    expect(notifier.published.map((n) => n.metadata.eventType)).toEqual(['operator-rebuild']);
    const hooks = new ReportingHooks(async (request) => {
      if (request.action === 'rebuild') await report(r2, { sourceNodeId: 'p1' });
    });
    const { steps, recovery } = stepsFor(table, hooks);
    const incident = started[0] as Incident;
    expect(incident).toMatchObject({ kind: 'REBUILD', runbook: 'replica-recovery' });

    const result = await runRunbook('replica-recovery', runbookInput(incident), { steps, approvals: never });

    expect(result.states).toEqual(
      flowPath(RECOVERY_FLOW, ['proceed', 'locked', 'rebuild', 'rebuilt', 'recovered']),
    );
    expect(hooks.calls.map((c) => `${c.action} ${c.target} ← ${c.primary} (${c.spec})`)).toEqual([
      'rebuild r2 ← p1 (lambda)',
    ]);
    expect((result.output as RunbookState).outcome).toBe(
      'rebuilt: r2 replicates from p1 (asked by local:erin)',
    );
    const after = await recovery.getIncident('rebuilt', incident.incidentId, incident.openedAt);
    expect(after?.state).toBe('RESOLVED');
  });
});
