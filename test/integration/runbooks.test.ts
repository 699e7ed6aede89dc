import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from '@jest/globals';
import type { ServingAnswer } from '../../functions/adapters/hooks/serving';
import { keys } from '../../functions/adapters/table-definition';
import { HookFailedError, type NodeEndpoint } from '../../functions/core/hooks';
import type { NodeState } from '../../functions/core/node-state';
import type { Engine } from '../../functions/core/position';
import { lockVerdict } from '../../functions/core/recovery';
import type { ApprovalDecision, RunbookState } from '../../functions/core/runbook';
import { FAILOVER_FLOW, flowPath, RECOVERY_FLOW } from '../../functions/core/runbook-flows';
import { nodeItem } from '../../local/fleet';
import { runRunbook } from '../../local/runbook-runner';
import { useTestTable } from '../support/dynamodb';
import { openIncident, runbookInput, ScriptedHooks, seedCluster, stepsFor } from '../support/runbooks';

/**
 * Every branch of both runbooks, run from the state machines synthesized by the CDK app (local/runbook-runner)
 * with the real runbook-steps handler on DynamoDB Local. The database side is scripted here (faults injected
 * per action); runbooks-real.test.ts runs the same flows against real Redis and PostgreSQL servers.
 */
/** An approver who never answers. */
const never = () => new Promise<ApprovalDecision>(() => undefined);

describe('runbooks on DynamoDB Local, from the synthesized state machines', () => {
  const table = useTestTable('runbooks');

  const fast = { waitTimeOverrides: { WaitForProgress: 0, WaitForSsm: 0 } };
  // Rearm keeps its real wait ($.retryAfterSeconds) unless a test says otherwise.

  async function failover(
    clusterId: string,
    setup: Parameters<typeof seedCluster>[1] = { clusterId },
    hooks = new ScriptedHooks(),
  ) {
    const now = Date.now();
    await seedCluster(table, { ...setup, clusterId }, now);
    const incident = await openIncident(table, clusterId, 'pg-1', 'primary', 'DEAD', now);
    const { steps, notifier, recovery } = stepsFor(table, hooks);
    return { incident, hooks, steps, notifier, recovery, input: runbookInput(incident) };
  }

  /** Runs a failover until `step` is on the incident's record, then stops it (a re-armed run goes on for ever). */
  /**
   * Runs the failover until the first step called after `step` was recorded on the incident (so the states
   * the run went through after it, e.g. a Rearm, are in the result), then aborts it. No timing involved:
   * the check is made on each step call.
   */
  async function runUntilStep(
    input: RunbookState,
    steps: Awaited<ReturnType<typeof failover>>['steps'],
    recovery: Awaited<ReturnType<typeof failover>>['recovery'],
    step: string,
  ) {
    const controller = new AbortController();
    const recorded = async () => {
      const incident = await recovery.getIncident(input.clusterId, input.incidentId, input.openedAt);
      return incident?.runbookSteps?.some((s) => s.step === step) === true;
    };
    const watched: typeof steps = async (payload) => {
      if (!controller.signal.aborted && (await recorded())) {
        controller.abort();
        return new Promise<never>(() => {});
      }
      return steps(payload);
    };
    return runRunbook('primary-failover', input, {
      steps: watched,
      approvals: never,
      ...fast,
      signal: controller.signal,
    });
  }

  it('fails over automatically: fences, promotes the most advanced replica, repoints the other, verifies', async () => {
    const { input, steps, hooks, recovery, notifier } = await failover('auto-ok');
    const result = await runRunbook('primary-failover', input, { steps, approvals: never, ...fast });

    expect(result.status).toBe('SUCCEEDED');
    expect(result.states).toEqual(
      flowPath(FAILOVER_FLOW, ['proceed', 'locked', 'auto', 'done', 'done', 'done']),
    );
    // The built-in fence is the check on the old primary itself: its port refused the connection.
    expect(hooks.calls).toEqual([
      { action: 'serving', target: 'pg-1', epoch: -1 },
      { action: 'promote', target: 'pg-3', epoch: 8 },
      { action: 'repoint', target: 'pg-2', primary: 'pg-3', epoch: 8 },
    ]);
    const cluster = await recovery.getCluster('auto-ok');
    expect(cluster).toMatchObject({ epoch: 8, primaryNodeId: 'pg-3' });
    expect(cluster.lockIncidentId).toBeUndefined();
    expect(cluster.lastRecoveryAt).toBeGreaterThan(0);
    const incident = await recovery.getIncident('auto-ok', input.incidentId, input.openedAt);
    expect(incident).toMatchObject({ state: 'RESOLVED' });
    expect(incident?.plan).toMatchObject({ candidate: 'pg-3', repoint: ['pg-2'] });
    expect(incident?.plan?.rejected).toEqual([
      { nodeId: 'pg-2', reason: "applied position 0/4000 is behind pg-3's 0/4F00" },
    ]);
    expect(incident?.runbookSteps?.map((s) => s.step)).toEqual([
      'verified',
      'locked',
      'plan',
      'fenced',
      'promoted',
      'cluster-updated',
      'repointed',
      'verified-primary',
      'completed',
    ]);
    expect(await table.getNode('auto-ok', 'pg-1')).toMatchObject({
      status: 'FENCED',
      transitionTo: 'FENCED',
    });
    expect(notifier.published.map((n) => n.metadata.eventType)).toEqual(['runbook-completed']);
  });

  it('computes, records and announces the plan in dry-run mode and touches nothing', async () => {
    const { input, steps, hooks, recovery, notifier } = await failover('dry', {
      clusterId: 'dry',
      mode: 'dry-run',
    });
    const result = await runRunbook('primary-failover', input, { steps, approvals: never, ...fast });

    expect(result.states).toEqual(flowPath(FAILOVER_FLOW, ['proceed', 'locked', 'dry-run']));
    expect(hooks.calls).toEqual([]);
    const cluster = await recovery.getCluster('dry');
    expect(cluster).toMatchObject({ epoch: 7, primaryNodeId: 'pg-1' });
    expect(cluster.lockIncidentId).toBeUndefined();
    expect(cluster.lastRecoveryAt).toBeUndefined();
    expect(await table.getNode('dry', 'pg-1')).toMatchObject({ status: 'DEAD' });
    expect((await recovery.getIncident('dry', input.incidentId, input.openedAt))?.plan?.candidate).toBe(
      'pg-3',
    );
    expect(notifier.published.map((n) => n.metadata.eventType)).toEqual(['runbook-dry-run']);
  });

  it('waits for an approval, then fails over with who approved on record', async () => {
    const { input, steps, hooks, recovery } = await failover('approve-yes', {
      clusterId: 'approve-yes',
      mode: 'approve',
    });
    const tokens: string[] = [];
    const result = await runRunbook('primary-failover', input, {
      steps,
      approvals: async (token) => {
        tokens.push(token);
        return { approved: true, by: 'arn:aws:iam::123456789012:user/erin', reason: 'lag checked' };
      },
      ...fast,
    });
    expect(result.states).toEqual(
      flowPath(FAILOVER_FLOW, ['proceed', 'locked', 'approve', 'approved', 'done', 'done', 'done']),
    );
    expect(tokens).toHaveLength(1);
    expect(hooks.count('promote')).toBe(1);
    const incident = await recovery.getIncident('approve-yes', input.incidentId, input.openedAt);
    expect(incident?.runbookSteps?.find((s) => s.step === 'approved')?.detail).toBe(
      'approved by arn:aws:iam::123456789012:user/erin: lag checked',
    );
    expect(incident?.approvalToken).toBeUndefined();
  });

  it('stops when the approver rejects, touching nothing', async () => {
    const { input, steps, hooks, recovery } = await failover('approve-no', {
      clusterId: 'approve-no',
      mode: 'approve',
    });
    const result = await runRunbook('primary-failover', input, {
      steps,
      approvals: async () => ({ approved: false, by: 'slack:dana', reason: 'maintenance planned' }),
      ...fast,
    });
    expect(result.states).toEqual(flowPath(FAILOVER_FLOW, ['proceed', 'locked', 'approve', 'rejected']));
    expect(hooks.calls).toEqual([]);
    expect((await recovery.getCluster('approve-no')).epoch).toBe(7);
  });

  it('treats an approval that times out as a rejection and announces it', async () => {
    const { input, steps, hooks, recovery, notifier } = await failover('approve-late', {
      clusterId: 'approve-late',
      mode: 'approve',
      meta: { approvalTimeoutSeconds: 1 },
    });
    const result = await runRunbook('primary-failover', input, { steps, approvals: never, ...fast });
    expect(result.states).toEqual([
      'ReVerify',
      'TakeLock',
      'ChooseCandidate',
      'RequestApproval',
      'Expired',
      'ReleaseLock',
      'Done',
    ]);
    expect(hooks.calls).toEqual([]);
    const incident = await recovery.getIncident('approve-late', input.incidentId, input.openedAt);
    expect(incident?.runbookSteps?.map((s) => s.step)).toContain('expired');
    expect(notifier.published.map((n) => n.metadata.eventType)).toEqual([
      'runbook-approval-requested',
      'runbook-expired',
    ]);
  });

  it('waits out the cooldown of a second failover (recorded as waiting, announced), then fails over', async () => {
    const { input, steps, hooks, recovery, notifier } = await failover('cooldown', {
      clusterId: 'cooldown',
      // The cooldown ends about 2 s from now: the real Rearm wait (not overridden) takes the run past it.
      meta: { lastRecoveryAt: Date.now() - 58_000, policy: { recoveryBlockSeconds: 60 } },
    });
    const result = await runRunbook('primary-failover', input, { steps, approvals: never, ...fast });
    expect(result.states.slice(0, 4)).toEqual(['ReVerify', 'TakeLock', 'Rearm', 'ReVerify']);
    expect(result.states.at(-2)).toBe('Complete');
    expect(hooks.count('promote')).toBe(1);
    const incident = await recovery.getIncident('cooldown', input.incidentId, input.openedAt);
    const waiting = incident?.runbookSteps?.find((s) => s.step === 'waiting');
    expect(waiting?.detail).toMatch(
      /^waiting: cooldown until \S+: the last failover finished at .*looking again at /,
    );
    expect(notifier.published.map((n) => n.metadata.eventType)).toEqual([
      'runbook-waiting',
      'runbook-completed',
    ]);
    expect(String((incident as { outcome?: string } | undefined)?.outcome)).toMatch(
      /^recovered: pg-3 promoted/,
    );
  });

  it('waits while the cluster is in maintenance, then recovers when it ends', async () => {
    const { input, steps, hooks, recovery } = await failover('maint', {
      clusterId: 'maint',
      meta: { maintenanceUntil: Date.now() + 1500, maintenanceBy: 'alice', maintenanceReason: 'upgrade' },
    });
    const result = await runRunbook('primary-failover', input, { steps, approvals: never, ...fast });
    expect(result.states.slice(0, 3)).toEqual(['ReVerify', 'TakeLock', 'Rearm']);
    expect(hooks.count('promote')).toBe(1);
    const incident = await recovery.getIncident('maint', input.incidentId, input.openedAt);
    expect(incident?.runbookSteps?.map((s) => s.detail).join('\n')).toMatch(
      /waiting: cluster in maintenance until .* \(by alice: upgrade\)/,
    );
  });

  it('refuses to fail over, releases the lock and pages when the old primary cannot be proven fenced (strict)', async () => {
    const hooks = new ScriptedHooks();
    hooks.servingStates.set('pg-1', 'unknown');
    const { input, steps, recovery, notifier } = await failover('strict', { clusterId: 'strict' }, hooks);
    // The refused run re-arms; once the refusal is on record, stop it (it would look again in 30 s).
    const result = await runUntilStep(input, steps, recovery, 'fence-refused');
    expect(result.states).toContain('Fence');
    expect(hooks.count('promote')).toBe(0);
    const cluster = await recovery.getCluster('strict');
    expect(cluster).toMatchObject({ epoch: 7, primaryNodeId: 'pg-1' });
    expect(cluster.lockIncidentId).toBeUndefined();
    expect(await table.getNode('strict', 'pg-1')).toMatchObject({ status: 'DEAD' });
    const incident = await recovery.getIncident('strict', input.incidentId, input.openedAt);
    expect(incident?.state).toBe('OPEN');
    expect((incident as { outcome?: string } | undefined)?.outcome).toMatch(
      /^failover refused: pg-1 cannot be proven fenced \(pg-1 is unknown\)/,
    );
    const page = notifier.published.find((n) => n.metadata.eventType === 'runbook-fence-refused');
    expect(page?.metadata.additionalContext.severity).toBe('critical');
  });

  it('fails over an unreachable old primary with fencing: trust-quorum, saying what it trusted', async () => {
    const hooks = new ScriptedHooks();
    hooks.servingStates.set('pg-1', 'unknown');
    const { input, steps, recovery } = await failover(
      'trust',
      { clusterId: 'trust', meta: { fencing: 'trust-quorum' } },
      hooks,
    );
    const result = await runRunbook('primary-failover', input, { steps, approvals: never, ...fast });
    expect(result.states.at(-2)).toBe('Complete');
    const incident = await recovery.getIncident('trust', input.incidentId, input.openedAt);
    expect(incident?.runbookSteps?.find((s) => s.step === 'fenced')?.detail).toContain(
      "the quorum's DEAD verdict is trusted (fencing: trust-quorum)",
    );
  });

  it('runs the fenceUnreachable hook for an old primary it cannot ask, then fails over', async () => {
    const hooks = new ScriptedHooks();
    hooks.servingStates.set('pg-1', 'unknown');
    const arn = 'arn:aws:lambda:us-east-1:123456789012:function:stop-instance';
    const { input, steps, recovery } = await failover(
      'out-of-band',
      {
        clusterId: 'out-of-band',
        meta: { hooks: { fenceUnreachable: { type: 'lambda', functionArn: arn } } },
      },
      hooks,
    );
    const result = await runRunbook('primary-failover', input, { steps, approvals: never, ...fast });
    expect(result.states.at(-2)).toBe('Complete');
    expect(
      hooks.calls.filter((c) => c.action !== 'serving').map((c) => [c.action, c.target, c.spec ?? 'builtin']),
    ).toEqual([
      ['fenceUnreachable', 'pg-1', 'lambda'],
      ['promote', 'pg-3', 'builtin'],
      ['repoint', 'pg-2', 'builtin'],
    ]);
    expect((await recovery.getCluster('out-of-band')).primaryNodeId).toBe('pg-3');
  });

  it('does not fence an old primary that answers as a writable primary: the lock is released, nothing done', async () => {
    const hooks = new ScriptedHooks();
    hooks.servingStates.set('pg-1', 'writable');
    const { input, steps, recovery } = await failover(
      'alive-at-fence',
      { clusterId: 'alive-at-fence' },
      hooks,
    );
    await runUntilStep(input, steps, recovery, 'aborted-alive');
    expect(hooks.calls.filter((c) => c.action !== 'serving')).toEqual([]);
    const cluster = await recovery.getCluster('alive-at-fence');
    expect(cluster).toMatchObject({ epoch: 7, primaryNodeId: 'pg-1' });
    expect(cluster.lockIncidentId).toBeUndefined();
    const incident = await recovery.getIncident('alive-at-fence', input.incidentId, input.openedAt);
    expect(incident?.runbookSteps?.find((s) => s.step === 'aborted-alive')?.detail).toMatch(
      /^not fenced: pg-1 answers as a writable primary \(pg-1 is writable\): it is alive; nothing done/,
    );
  });

  it('repoints every replica through an SSM hook, one Automation run each, resuming at Repoint', async () => {
    const hooks = new ScriptedHooks();
    hooks.ssm = true;
    const now = Date.now();
    const replica = (nodeId: string, appliedPosition: string) => ({
      ...(nodeItem('ssm-repoint', nodeId, 'replica', now + 25_000) as unknown as NodeState),
      status: 'STALLED' as const,
      appliedPosition,
      lastHeartbeatAt: now - 2000,
    });
    const nodes: NodeState[] = [
      {
        ...(nodeItem('ssm-repoint', 'pg-1', 'primary', now - 10_000) as unknown as NodeState),
        status: 'DEAD',
        position: '0/5000',
        lastHeartbeatAt: now - 40_000,
      },
      replica('pg-2', '0/4F00'),
      replica('pg-3', '0/5000'),
      replica('pg-4', '0/4F00'),
    ];
    const { input, steps, recovery } = await failover(
      'ssm-repoint',
      {
        clusterId: 'ssm-repoint',
        nodes,
        meta: { hooks: { repoint: { type: 'ssm', documentName: 'Repoint' } } },
      },
      hooks,
    );
    const result = await runRunbook('primary-failover', input, {
      steps,
      approvals: never,
      ...fast,
      getAutomationExecution: async () => ({ AutomationExecution: { AutomationExecutionStatus: 'Success' } }),
    });
    expect(result.states.at(-2)).toBe('Complete');
    expect(
      hooks.calls.filter((c) => c.action === 'repoint').map((c) => [c.target, c.primary, c.spec]),
    ).toEqual([
      ['pg-2', 'pg-3', 'ssm'],
      ['pg-4', 'pg-3', 'ssm'],
    ]);
    expect(result.states.filter((state) => state === 'Repoint')).toHaveLength(3);
    const incident = await recovery.getIncident('ssm-repoint', input.incidentId, input.openedAt);
    expect(incident?.runbookSteps?.map((s) => s.step)).toEqual(
      expect.arrayContaining(['repoint-pg-2', 'repoint-pg-4', 'repointed']),
    );
  });

  it('records the new primary before repointing, and completes when one replica cannot be repointed', async () => {
    const hooks = new ScriptedHooks();
    hooks.failOn.set('repoint', new HookFailedError('pg-2 refused CHANGE MASTER'));
    const { input, steps, recovery, notifier } = await failover(
      'repoint-fails',
      { clusterId: 'repoint-fails' },
      hooks,
    );
    const result = await runRunbook('primary-failover', input, { steps, approvals: never, ...fast });
    expect(result.status).toBe('SUCCEEDED');
    expect(result.states.at(-2)).toBe('Complete');
    expect((await recovery.getCluster('repoint-fails')).primaryNodeId).toBe('pg-3');
    const incident = await recovery.getIncident('repoint-fails', input.incidentId, input.openedAt);
    expect(incident?.runbookSteps?.find((s) => s.step === 'repoint-failed-pg-2')?.detail).toBe(
      'repoint of pg-2 failed (pg-2 refused CHANGE MASTER); it stays on the old primary until its own recovery repoints it',
    );
    expect(notifier.published.map((n) => n.metadata.eventType)).toContain('runbook-repoint-failed-pg-2');
  });

  it('refuses and pages instead of promoting a bad replica when none is eligible, then keeps looking', async () => {
    const { input, steps, hooks, recovery, notifier } = await failover('no-candidate', {
      clusterId: 'no-candidate',
      meta: {
        nodes: [
          { nodeId: 'pg-1', url: 'redis://127.0.0.1:7000' },
          { nodeId: 'pg-2', url: 'redis://127.0.0.1:7001', noPromote: true },
          { nodeId: 'pg-3', url: 'redis://127.0.0.1:7002', noPromote: true },
        ],
      },
    });
    const result = await runUntilStep(input, steps, recovery, 'no-candidate');
    expect(result.states.slice(0, 5)).toEqual([
      'ReVerify',
      'TakeLock',
      'ChooseCandidate',
      'NoCandidate',
      'Rearm',
    ]);
    expect(hooks.calls).toEqual([]);
    const cluster = await recovery.getCluster('no-candidate');
    expect(cluster.lockIncidentId).toBeUndefined();
    expect(cluster.epoch).toBe(7);
    const incident = await recovery.getIncident('no-candidate', input.incidentId, input.openedAt);
    expect(incident?.state).toBe('OPEN');
    expect((incident as { outcome?: string } | undefined)?.outcome).toMatch(
      /^failover refused, nothing fenced or promoted: .*looking again every 60s$/,
    );
    expect(notifier.published.at(-1)?.content.description).toContain(
      'pg-2 marked noPromote; pg-3 marked noPromote',
    );
  });

  it('marks the incident FAILED, keeps the lock and notifies when a hook fails', async () => {
    const hooks = new ScriptedHooks();
    hooks.failOn.set('promote', new HookFailedError('REPLICAOF NO ONE failed: READONLY'));
    const { input, steps, recovery, notifier } = await failover(
      'hook-fail',
      { clusterId: 'hook-fail' },
      hooks,
    );
    const result = await runRunbook('primary-failover', input, { steps, approvals: never, ...fast });
    expect(result.status).toBe('FAILED');
    expect(result.states).toEqual([
      'ReVerify',
      'TakeLock',
      'ChooseCandidate',
      'Fence',
      'Promote',
      'MarkFailed',
      'Failed',
    ]);
    const cluster = await recovery.getCluster('hook-fail');
    expect(cluster).toMatchObject({ lockIncidentId: input.incidentId, epoch: 8, primaryNodeId: 'pg-1' });
    const incident = await recovery.getIncident('hook-fail', input.incidentId, input.openedAt);
    expect(incident?.state).toBe('FAILED');
    expect(incident?.runbookSteps?.at(-1)?.detail).toContain('HookFailedError');
    expect(notifier.published.at(-1)?.metadata.additionalContext.severity).toBe('critical');
  });

  it('retries Verify until the promoted node reports as primary', async () => {
    const hooks = new ScriptedHooks();
    hooks.notYetPrimary = 2;
    const { input, steps } = await failover('verify-retry', { clusterId: 'verify-retry' }, hooks);
    const result = await runRunbook('primary-failover', input, {
      steps,
      approvals: never,
      ...fast,
      retryIntervalOverrides: { Verify: 0 },
    });
    expect(result.status).toBe('SUCCEEDED');
    expect(result.states.filter((s) => s === 'Verify').length).toBeGreaterThanOrEqual(1);
    expect(hooks.notYetPrimary).toBe(0);
  });

  it('aborts when re-verification finds the primary alive again', async () => {
    const now = Date.now();
    const { input, steps, hooks } = await failover('alive', { clusterId: 'alive' });
    await seedCluster(table, { clusterId: 'alive' }, now); // rewrite, then bring pg-1 back
    const { PutCommand } = await import('@aws-sdk/lib-dynamodb');
    const back = (await table.getNode('alive', 'pg-1')) as unknown as Record<string, unknown>;
    await table.client.send(
      new PutCommand({
        TableName: table.tableName,
        Item: {
          ...back,
          PK: 'CLUSTER#alive',
          SK: 'NODE#pg-1',
          type: 'node',
          status: 'HEALTHY',
          lastHeartbeatAt: now,
        },
      }),
    );
    const result = await runRunbook('primary-failover', input, { steps, approvals: never, ...fast });
    expect(result.states).toEqual(flowPath(FAILOVER_FLOW, ['abort']));
    expect(result.output?.outcome).toMatch(/^aborted: pg-1 is HEALTHY, not dead/);
    expect(hooks.calls).toEqual([]);
  });

  it('does not promote the node of the replica recovery it preempts (a rebuild may be wiping it): the next best is', async () => {
    const { input, steps, hooks } = await failover('preempts-rebuild');
    const rebuild = await openIncident(table, 'preempts-rebuild', 'pg-3', 'replica', 'STALLED', Date.now());
    await table.client.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { PK: keys.clusterPk('preempts-rebuild'), SK: keys.clusterMetaSk },
        UpdateExpression: 'SET lockIncidentId = :holder, lockRunbook = :runbook',
        ExpressionAttributeValues: { ':holder': rebuild.incidentId, ':runbook': 'replica-recovery' },
      }),
    );

    const result = await runRunbook('primary-failover', input, { steps, approvals: never, ...fast });

    expect(result.status).toBe('SUCCEEDED');
    // pg-3 is the most advanced (it is promoted when nothing holds it: the first test of this file).
    expect(hooks.calls.filter((c) => c.action === 'promote').map((c) => c.target)).toEqual(['pg-2']);
    expect(result.output?.preemptedNodeId).toBe('pg-3');
  });

  it('a run superseded on its incident (an operator restarted it as its next attempt) stops without touching the lock', async () => {
    const { input, steps, hooks, recovery } = await failover('superseded');
    // As a takeover or `recover` leaves it: the incident's next attempt, whose run holds the lock now.
    await table.client.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: {
          PK: keys.clusterPk('superseded'),
          SK: keys.incidentSk(new Date(input.openedAt).toISOString(), input.incidentId),
        },
        UpdateExpression: 'SET #attempt = :one',
        ExpressionAttributeNames: { '#attempt': 'attempt' },
        ExpressionAttributeValues: { ':one': 1 },
      }),
    );
    await table.client.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { PK: keys.clusterPk('superseded'), SK: keys.clusterMetaSk },
        UpdateExpression: 'SET lockIncidentId = :me, lockRunbook = :runbook',
        ExpressionAttributeValues: { ':me': input.incidentId, ':runbook': 'primary-failover' },
      }),
    );

    const stale = await runRunbook('primary-failover', input, { steps, approvals: never, ...fast });
    // A late Fence of the stale run (a step already in flight) stops too, before anything is asked or moved.
    const fence = (await steps({ action: 'fence', state: { ...input, candidate: 'pg-3' } })) as RunbookState;

    expect(stale.states).toEqual(flowPath(FAILOVER_FLOW, ['abort']));
    expect(stale.output?.outcome).toBe(`aborted: superseded by execution ${input.incidentId}-a1`);
    expect(fence).toMatchObject({
      next: 'abort',
      outcome: `aborted: superseded by execution ${input.incidentId}-a1`,
    });
    expect(hooks.calls).toEqual([]);
    expect(await recovery.getCluster('superseded')).toMatchObject({
      lockIncidentId: input.incidentId,
      epoch: 7,
    });
  });

  it('promotes the candidate the epoch moved for after choices X, Y, X with fence refusals; a resume promotes X only', async () => {
    // Fence is refused twice (the old primary cannot be proven fenced); between the looks the replicas'
    // positions change, so the choice goes pg-3 (X), pg-2 (Y), pg-3 (X) again. The third look fences, moves
    // the epoch and fails in Promote: the run stops half done, the lock held.
    const clusterId = 'x-y-x';
    const applied = (nodeId: string, position: string) =>
      table.client.send(
        new UpdateCommand({
          TableName: table.tableName,
          Key: { PK: keys.clusterPk(clusterId), SK: keys.nodeSk(nodeId) },
          UpdateExpression: 'SET appliedPosition = :p',
          ExpressionAttributeValues: { ':p': position },
        }),
      );
    class Looks extends ScriptedHooks {
      looks = 0;
      override async serving(engine: Engine, endpoint: NodeEndpoint): Promise<ServingAnswer> {
        this.looks++;
        if (this.looks === 1) await applied('pg-2', '0/4F80'); // Y leads at the next look
        if (this.looks === 2) await applied('pg-3', '0/4FF0'); // X leads again
        if (this.looks <= 2) this.servingStates.set('pg-1', 'unknown');
        else this.servingStates.delete('pg-1');
        return super.serving(engine, endpoint);
      }
    }
    const hooks = new Looks();
    hooks.failOn.set('promote', new HookFailedError('REPLICAOF NO ONE failed: connection reset'));
    const { input, steps, recovery } = await failover(clusterId, { clusterId }, hooks);
    const first = await runRunbook('primary-failover', input, {
      steps,
      approvals: never,
      waitTimeOverrides: { ...fast.waitTimeOverrides, Rearm: 0 },
    });
    expect(first.status).toBe('FAILED');
    expect(first.states.filter((s) => s === 'ChooseCandidate')).toHaveLength(3);
    expect(hooks.calls.filter((c) => c.action === 'promote').map((c) => c.target)).toEqual(['pg-3']);
    const cluster = await recovery.getCluster(clusterId);
    expect(cluster).toMatchObject({
      epoch: 8,
      epochIncidentId: input.incidentId,
      epochCandidate: 'pg-3',
      lockIncidentId: input.incidentId,
      primaryNodeId: 'pg-1',
    });
    const failed = await recovery.getIncident(clusterId, input.incidentId, input.openedAt);
    // The plan on record is the latest choice, and every change of choice is on the record.
    expect(failed?.plan?.candidate).toBe('pg-3');
    expect(
      failed?.runbookSteps
        ?.filter((s) => s.step === 'plan')
        .map((s) => /repoint ([\w-]+)/.exec(s.detail)?.[1]),
    ).toEqual(['pg-2', 'pg-3', 'pg-2']);

    // A late write of the stopped choice (Y) on the plan must not steer the resumed run: it resumes with
    // the candidate recorded with the epoch.
    await table.client.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: {
          PK: keys.clusterPk(clusterId),
          SK: keys.incidentSk(new Date(input.openedAt).toISOString(), input.incidentId),
        },
        // As `recover` leaves it: open again, its next attempt (the resumed execution is `<incident>-a2`).
        UpdateExpression: 'SET #state = :open, #plan.candidate = :y, #attempt = :attempt',
        ExpressionAttributeNames: { '#state': 'state', '#plan': 'plan', '#attempt': 'attempt' },
        ExpressionAttributeValues: { ':open': 'OPEN', ':y': 'pg-2', ':attempt': 2 },
      }),
    );
    // Promote refuses a candidate other than the epoch's, whoever asks.
    await expect(
      steps({
        action: 'promote',
        state: { ...input, executionName: `${input.executionName}-late`, candidate: 'pg-2', epoch: 8 },
      }),
    ).rejects.toThrow(/the epoch 8 was moved for pg-3, not pg-2/);
    hooks.failOn.delete('promote');
    const resumed = await runRunbook(
      'primary-failover',
      { ...input, executionName: `${input.executionName}-a2` },
      { steps, approvals: never, ...fast },
    );
    expect(resumed.status).toBe('SUCCEEDED');
    expect(hooks.calls.filter((c) => c.action === 'promote').map((c) => c.target)).toEqual(['pg-3', 'pg-3']);
    expect(await recovery.getCluster(clusterId)).toMatchObject({ epoch: 8, primaryNodeId: 'pg-3' });
    const [epoch] = await recovery.epochs(clusterId);
    expect(epoch).toMatchObject({ epoch: 8, primaryNodeId: 'pg-3', previousPrimaryNodeId: 'pg-1' });
    // The tampered plan names pg-2: the epoch history does not state pg-2's data at risk for pg-3.
    expect(epoch?.dataAtRisk).toBeUndefined();
    expect(epoch?.why).not.toMatch(/pg-2/);
    const done = await recovery.getIncident(clusterId, input.incidentId, input.openedAt);
    expect(done?.runbookSteps?.find((s) => s.step === 'completed')?.detail).toMatch(
      /^recovered: pg-3 promoted at epoch 8, pg-2 repointed; pg-1 fenced$/,
    );
  });

  it('lets exactly one of 20 concurrent failovers of a cluster act: one promotion, the epoch moved once', async () => {
    const clusterId = 'split-brain';
    const now = Date.now();
    await seedCluster(table, { clusterId }, now);
    const hooks = new ScriptedHooks();
    const { steps, recovery } = stepsFor(table, hooks);
    const incidents = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        openIncident(table, clusterId, 'pg-1', 'primary', 'DEAD', now + i, 10 + i),
      ),
    );
    const results = await Promise.all(
      incidents.map((incident) =>
        runRunbook('primary-failover', runbookInput(incident), {
          steps,
          approvals: never,
          waitTimeOverrides: { ...fast.waitTimeOverrides, Rearm: 50 },
        }),
      ),
    );

    expect(hooks.count('promote')).toBe(1);
    expect(hooks.count('serving')).toBe(1);
    expect((await recovery.getCluster(clusterId)).epoch).toBe(8);
    const completed = results.filter((r) => r.states.includes('Complete'));
    // The others wait while the winner holds the lock (or the cooldown runs), then look again and stop before
    // acting: re-verification finds the old primary FENCED.
    const stopped = results.filter((r) => r.status === 'SUCCEEDED' && !r.states.includes('Complete'));
    expect(completed).toHaveLength(1);
    expect(stopped).toHaveLength(19);
    for (const r of stopped) {
      // Stopped before Fence: by the fresh evidence, or because another run moved the primary role.
      expect(r.output?.outcome).toMatch(
        /^aborted: pg-1 (is FENCED, not dead: .+|is no longer the recorded primary \(pg-3 is, epoch \d+\))$/,
      );
      expect(r.states).not.toContain('Fence');
    }
  });
});

describe('replica-recovery', () => {
  const table = useTestTable('recovery');

  async function stalled(clusterId: string, meta: Record<string, unknown> = {}, hooks = new ScriptedHooks()) {
    const now = Date.now();
    await seedCluster(table, { clusterId, meta, nodes: undefined }, now);
    const { PutCommand } = await import('@aws-sdk/lib-dynamodb');
    const primary = (await table.getNode(clusterId, 'pg-1')) as unknown as Record<string, unknown>;
    await table.client.send(
      new PutCommand({
        TableName: table.tableName,
        Item: {
          ...primary,
          PK: `CLUSTER#${clusterId}`,
          SK: 'NODE#pg-1',
          type: 'node',
          status: 'HEALTHY',
          lastHeartbeatAt: now,
        },
      }),
    );
    const incident = await openIncident(table, clusterId, 'pg-2', 'replica', 'STALLED', now);
    return { hooks, input: runbookInput(incident) as RunbookState, ...stepsFor(table, hooks) };
  }

  it('restarts replication and closes the incident once the replica makes progress', async () => {
    const hooks = new ScriptedHooks();
    hooks.progress = ['0/4000', '0/4800'];
    const { input, steps, recovery } = await stalled('recover-ok', {}, hooks);
    const result = await runRunbook('replica-recovery', input, {
      steps,
      approvals: never,
      waitTimeOverrides: { WaitForProgress: 0 },
    });
    expect(result.states).toEqual(
      flowPath(RECOVERY_FLOW, ['proceed', 'locked', 'auto', 'done', 'recovered']),
    );
    expect(hooks.calls).toEqual([
      { action: 'restartReplication', target: 'pg-2', primary: 'pg-1', epoch: 7 },
    ]);
    expect((await recovery.getIncident('recover-ok', input.incidentId, input.openedAt))?.state).toBe(
      'RESOLVED',
    );
    // The lock is released without starting the cooldown: a failover of a primary that dies next may run.
    const cluster = await recovery.getCluster('recover-ok');
    expect(cluster.lockIncidentId).toBeUndefined();
    expect(cluster.lastRecoveryAt).toBeUndefined();
    expect(lockVerdict(cluster, 'next-incident', Date.now())).toEqual({ ok: true });
  });

  it('escalates to a human when the replica does not recover and no rebuild hook exists', async () => {
    const hooks = new ScriptedHooks();
    hooks.progress = ['0/4000'];
    const { input, steps, recovery, notifier } = await stalled('recover-page', {}, hooks);
    const result = await runRunbook('replica-recovery', input, {
      steps,
      approvals: never,
      waitTimeOverrides: { WaitForProgress: 0 },
    });
    expect(result.states).toEqual(
      flowPath(RECOVERY_FLOW, ['proceed', 'locked', 'auto', 'done', 'not-recovered', 'paged']),
    );
    const incident = await recovery.getIncident('recover-page', input.incidentId, input.openedAt);
    expect(incident?.state).toBe('OPEN');
    expect(notifier.published.map((n) => n.metadata.eventType)).toEqual([
      'runbook-paged',
      'runbook-completed',
    ]);
    expect((await recovery.getCluster('recover-page')).lockIncidentId).toBeUndefined();
  });

  it('runs the configured rebuild hook once, then checks progress again', async () => {
    const hooks = new ScriptedHooks();
    hooks.progress = ['0/4000', '0/4000', '0/9000'];
    const { input, steps } = await stalled(
      'recover-rebuild',
      {
        hooks: {
          rebuild: { type: 'lambda', functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:rebuild' },
        },
      },
      hooks,
    );
    const result = await runRunbook('replica-recovery', input, {
      steps,
      approvals: never,
      waitTimeOverrides: { WaitForProgress: 0 },
    });
    expect(result.states).toEqual(
      flowPath(RECOVERY_FLOW, ['proceed', 'locked', 'auto', 'done', 'not-recovered', 'rebuilt', 'recovered']),
    );
    expect(hooks.calls.map((c) => [c.action, c.spec ?? 'builtin'])).toEqual([
      ['restartReplication', 'builtin'],
      ['rebuild', 'lambda'],
    ]);
  });

  it('starts nothing while the cluster is in maintenance, and recovers once it ends', async () => {
    const hooks = new ScriptedHooks();
    hooks.progress = ['0/4000', '0/4800'];
    const { input, steps } = await stalled(
      'recover-maint',
      { maintenanceUntil: Date.now() + 1500, maintenanceBy: 'bob', maintenanceReason: 'reindex' },
      hooks,
    );
    const result = await runRunbook('replica-recovery', input, {
      steps,
      approvals: never,
      waitTimeOverrides: { WaitForProgress: 0 },
    });
    expect(result.states.slice(0, 3)).toEqual(['ReVerify', 'TakeLock', 'Rearm']);
    expect(result.states.at(-2)).toBe('Complete');
    expect(hooks.count('restartReplication')).toBe(1);
  });

  it('gives way to a failover: a replica recovery whose lock was taken stops without acting', async () => {
    const hooks = new ScriptedHooks();
    const { input, steps, recovery } = await stalled('preempt', {}, hooks);
    let failoverTook = false;
    const result = await runRunbook('replica-recovery', input, {
      steps: async (payload) => {
        // Between TakeLock and RestartReplication a failover of the cluster's dead primary takes the lock.
        if (payload.action === 'restartReplication' && !failoverTook) {
          failoverTook = await recovery.takeLock(
            'preempt',
            'failover-incident',
            Date.now(),
            3600,
            'primary-failover',
          );
        }
        return steps(payload);
      },
      approvals: never,
      waitTimeOverrides: { WaitForProgress: 0 },
    });
    expect(failoverTook).toBe(true);
    expect(result.states).toEqual(flowPath(RECOVERY_FLOW, ['proceed', 'locked', 'auto', 'preempted']));
    expect(hooks.calls).toEqual([]);
    expect(await recovery.getCluster('preempt')).toMatchObject({
      lockIncidentId: 'failover-incident',
      lockRunbook: 'primary-failover',
    });
  });

  /** pg-1 is the recorded primary; pg-2 is in `status` (a returning old primary, or a misdirected replica). */
  async function rejoin(clusterId: string, status: 'SPLIT_BRAIN' | 'WRONG_SOURCE', hooks: ScriptedHooks) {
    const { input: _stalled, ...rest } = await stalled(clusterId, {}, hooks);
    const now = Date.now();
    const { PutCommand } = await import('@aws-sdk/lib-dynamodb');
    const node = (await table.getNode(clusterId, 'pg-2')) as unknown as Record<string, unknown>;
    await table.client.send(
      new PutCommand({
        TableName: table.tableName,
        Item: {
          ...node,
          PK: `CLUSTER#${clusterId}`,
          SK: 'NODE#pg-2',
          type: 'node',
          status,
          role: status === 'SPLIT_BRAIN' ? 'primary' : 'replica',
          sourceNodeId: status === 'SPLIT_BRAIN' ? undefined : 'pg-3',
          version: 20,
        },
      }),
    );
    const incident = await openIncident(
      table,
      clusterId,
      'pg-2',
      status === 'SPLIT_BRAIN' ? 'primary' : 'replica',
      status,
      now,
      21,
    );
    // The node's own reports after the runbook acted: a replica of the recorded primary pg-1.
    const reportsAsReplica = async () => {
      const current = (await table.getNode(clusterId, 'pg-2')) as unknown as Record<string, unknown>;
      await table.client.send(
        new PutCommand({
          TableName: table.tableName,
          Item: {
            ...current,
            PK: `CLUSTER#${clusterId}`,
            SK: 'NODE#pg-2',
            type: 'node',
            role: 'replica',
            sourceNodeId: 'pg-1',
            lastHeartbeatAt: Date.now() + 1,
          },
        }),
      );
    };
    return { ...rest, input: runbookInput(incident) as RunbookState, reportsAsReplica };
  }

  it('demotes a returning old primary (SPLIT_BRAIN) under the recorded primary, right after a failover', async () => {
    const hooks = new ScriptedHooks();
    const { input, steps, recovery, reportsAsReplica } = await rejoin('split', 'SPLIT_BRAIN', hooks);
    // The cooldown of the failover that just happened does not hold a demotion back.
    const { UpdateCommand } = await import('@aws-sdk/lib-dynamodb');
    await table.client.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { PK: 'CLUSTER#split', SK: 'META' },
        UpdateExpression: 'SET lastRecoveryAt = :now',
        ExpressionAttributeValues: { ':now': Date.now() },
      }),
    );
    const result = await runRunbook('replica-recovery', input, {
      steps: async (payload) => {
        const out = await steps(payload);
        if (payload.action === 'restartReplication') await reportsAsReplica();
        return out;
      },
      approvals: never,
      waitTimeOverrides: { WaitForProgress: 0 },
    });
    expect(input.kind).toBe('SPLIT_BRAIN');
    expect(result.states).toEqual(
      flowPath(RECOVERY_FLOW, ['proceed', 'locked', 'auto', 'done', 'recovered']),
    );
    expect(hooks.calls).toEqual([{ action: 'fence', target: 'pg-2', primary: 'pg-1', epoch: 7 }]);
    const incident = await recovery.getIncident('split', input.incidentId, input.openedAt);
    expect(incident?.state).toBe('RESOLVED');
    expect(incident?.runbookSteps?.find((s) => s.step === 'progressing')?.detail).toMatch(
      /^pg-2 now replicates from pg-1/,
    );
  });

  it('repoints a replica that follows the wrong source (WRONG_SOURCE) to the recorded primary', async () => {
    const hooks = new ScriptedHooks();
    const { input, steps, reportsAsReplica } = await rejoin('wrong-source', 'WRONG_SOURCE', hooks);
    const result = await runRunbook('replica-recovery', input, {
      steps: async (payload) => {
        const out = await steps(payload);
        if (payload.action === 'restartReplication') await reportsAsReplica();
        return out;
      },
      approvals: never,
      waitTimeOverrides: { WaitForProgress: 0 },
    });
    expect(result.states.at(-2)).toBe('Complete');
    expect(hooks.calls).toEqual([{ action: 'repoint', target: 'pg-2', primary: 'pg-1', epoch: 7 }]);
  });

  it('pages when a demoted node does not come back as a replica of the recorded primary', async () => {
    const hooks = new ScriptedHooks();
    const { input, steps, recovery } = await rejoin('split-stuck', 'SPLIT_BRAIN', hooks);
    const result = await runRunbook('replica-recovery', input, {
      steps,
      approvals: never,
      waitTimeOverrides: { WaitForProgress: 0 },
    });
    expect(result.states).toContain('Escalate');
    const incident = await recovery.getIncident('split-stuck', input.incidentId, input.openedAt);
    expect(incident?.state).toBe('OPEN');
    expect(incident?.runbookSteps?.find((s) => s.step === 'paged')?.detail).toMatch(
      /^paged: pg-2 was demoted but does not follow pg-1 \(a PostgreSQL server needs pg_rewind or a rebuild hook to rejoin\)/,
    );
  });
});
