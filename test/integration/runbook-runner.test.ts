import { describe, expect, it } from '@jest/globals';
import type { RunbookName } from '../../functions/core/incidents';
import { type ApprovalDecision, NotYetPrimaryError, type RunbookState } from '../../functions/core/runbook';
import { FAILOVER_FLOW, flowPath, RECOVERY_FLOW } from '../../functions/core/runbook-flows';
import { loadRunbookDefinitions, RUNBOOK_STEPS_FUNCTION_ARN } from '../../local/runbook-definitions';
import { runRunbook, type StepsPayload } from '../../local/runbook-runner';

/**
 * The runner and the flow wiring of both synthesized runbooks, driven by a scripted `steps` (a table of
 * action → what the step returns or throws). The real runbook-steps function is tested elsewhere
 * (runbooks.test.ts); here only the state machines' transitions, retries, catches and timeouts count.
 */

/** One scripted step: the fields it sets on the state, or an error it throws; a list plays one per call. */
type Script = Partial<Record<string, Partial<RunbookState> | Error | Array<Partial<RunbookState> | Error>>>;

/** A `steps` that follows `script` and records every call. */
function scripted(script: Script) {
  const calls: StepsPayload[] = [];
  const played = new Map<string, number>();
  const steps = async (payload: StepsPayload): Promise<RunbookState> => {
    calls.push(payload);
    const entry = script[payload.action];
    const count = played.get(payload.action) ?? 0;
    played.set(payload.action, count + 1);
    const step = Array.isArray(entry) ? (entry[Math.min(count, entry.length - 1)] ?? {}) : (entry ?? {});
    if (step instanceof Error) throw step;
    // Each step sets its own `next` (or none); the state machine branches on it.
    const { next: _previous, ...state } = payload.state;
    return { ...state, outcome: payload.action, ...step };
  };
  return { steps, calls, actions: () => calls.map((call) => call.action) };
}

const input = (runbook: RunbookName, incidentId: string): RunbookState => ({
  runbook,
  incidentId,
  clusterId: 'orders-pg',
  nodeId: 'pg-1',
  openedAt: Date.parse('2026-11-24T07:00:00Z'),
  executionName: incidentId,
});

/** An approver who never answers (until the task times out). */
const never = (_token: string, _state: RunbookState, signal: AbortSignal) =>
  new Promise<ApprovalDecision>((_resolve, reject) => {
    signal.addEventListener('abort', () => reject(new Error('approval no longer awaited')), { once: true });
  });

const fast = { waitTimeOverrides: { WaitForSsm: 0, WaitForProgress: 0, Rearm: 0 } };

/** The failover script of a healthy automatic run. */
const AUTO: Script = {
  reverify: { next: 'proceed' },
  takeLock: { next: 'locked', mode: 'auto' },
  chooseCandidate: { next: 'auto', candidate: 'pg-3', repoint: ['pg-2'] },
  fence: { next: 'done', epoch: 8 },
  promote: { next: 'done' },
  repoint: { next: 'done' },
};

describe('the runner', () => {
  it('runs the definitions synthesized from the CDK app, with runbook-steps at a placeholder ARN', async () => {
    const { definitions } = await loadRunbookDefinitions();

    expect(definitions['primary-failover'].StartAt).toBe('ReVerify');
    expect(definitions['replica-recovery'].StartAt).toBe('ReVerify');
    expect(definitions['primary-failover'].States.Fence).toMatchObject({
      Resource: RUNBOOK_STEPS_FUNCTION_ARN,
    });
  });

  it('passes { action, state } to steps and the task token to requestApproval only', async () => {
    const script = scripted({
      ...AUTO,
      chooseCandidate: { next: 'approve' },
      applyApproval: { next: 'rejected' },
    });
    const tokens: string[] = [];
    const start = { ...input('primary-failover', 'inc-payload'), approvalTimeoutSeconds: 60 };

    await runRunbook('primary-failover', start, {
      steps: script.steps,
      approvals: async (token) => {
        tokens.push(token);
        return { approved: false, by: 'ops' };
      },
    });

    const request = script.calls.find((call) => call.action === 'requestApproval');
    expect(request?.taskToken).toBe(tokens[0]);
    expect(tokens[0]).toMatch(/^local-task-token:primary-failover:/);
    expect(script.calls.filter((call) => call.taskToken !== undefined)).toHaveLength(1);
    expect(script.calls[0]).toEqual({ action: 'reverify', state: start });
  });
});

describe('primary-failover', () => {
  it('fails over automatically through the contract states, and ends with the last step state', async () => {
    const script = scripted(AUTO);

    const result = await runRunbook('primary-failover', input('primary-failover', 'inc-auto'), {
      steps: script.steps,
      approvals: never,
    });

    expect(result.status).toBe('SUCCEEDED');
    expect(result.states).toEqual(
      flowPath(FAILOVER_FLOW, ['proceed', 'locked', 'auto', 'done', 'done', 'done']),
    );
    expect(script.actions()).toEqual([
      'reverify',
      'takeLock',
      'chooseCandidate',
      'fence',
      'promote',
      'updateCluster',
      'repoint',
      'verify',
      'complete',
    ]);
    expect(result.output).toMatchObject({
      incidentId: 'inc-auto',
      candidate: 'pg-3',
      epoch: 8,
      outcome: 'complete',
    });
  });

  it('reports the routing Choices only in allStates', async () => {
    const result = await runRunbook('primary-failover', input('primary-failover', 'inc-all'), {
      steps: scripted(AUTO).steps,
      approvals: never,
    });

    expect(result.allStates.slice(0, 4)).toEqual([
      'ReVerify',
      'ReVerifyOutcome',
      'TakeLock',
      'TakeLockOutcome',
    ]);
  });

  it('re-arms when the lock is not taken (blocked): waits $.retryAfterSeconds, then looks again from ReVerify', async () => {
    const script = scripted({
      ...AUTO,
      takeLock: [
        { next: 'blocked', retryAfterSeconds: 1 },
        { next: 'locked', mode: 'auto' },
      ],
    });

    const started = Date.now();
    const result = await runRunbook('primary-failover', input('primary-failover', 'inc-blocked'), {
      steps: script.steps,
      approvals: never,
    });

    expect(result.status).toBe('SUCCEEDED');
    expect(result.states.slice(0, 6)).toEqual([
      'ReVerify',
      'TakeLock',
      'Rearm',
      'ReVerify',
      'TakeLock',
      'ChooseCandidate',
    ]);
    expect(result.states.at(-1)).toBe('Done');
    // The Wait used the step's $.retryAfterSeconds (not overridden here).
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it('re-arms after Fence aborts (the primary is alive) or refuses (it cannot be proven fenced)', async () => {
    const script = scripted({
      ...AUTO,
      fence: [
        { next: 'refused', retryAfterSeconds: 5 },
        { next: 'abort', retryAfterSeconds: 5 },
      ],
      reverify: [{ next: 'proceed' }, { next: 'proceed' }, { next: 'abort' }],
    });

    const result = await runRunbook('primary-failover', input('primary-failover', 'inc-fence-loop'), {
      steps: script.steps,
      approvals: never,
      ...fast,
    });

    expect(result.status).toBe('SUCCEEDED');
    expect(result.states).toEqual(
      flowPath(FAILOVER_FLOW, [
        'proceed',
        'locked',
        'auto',
        'refused',
        'proceed',
        'locked',
        'auto',
        'abort',
        'abort',
      ]),
    );
  });

  it('waits and looks again when re-verification finds a DEAD primary that reported since', async () => {
    const script = scripted({
      ...AUTO,
      reverify: [{ next: 'wait', retryAfterSeconds: 3 }, { next: 'abort' }],
    });
    const result = await runRunbook('primary-failover', input('primary-failover', 'inc-wait'), {
      steps: script.steps,
      approvals: never,
      ...fast,
    });
    expect(result.states).toEqual(flowPath(FAILOVER_FLOW, ['wait', 'abort']));
  });

  it('stops at Done when re-verification aborts', async () => {
    const result = await runRunbook('primary-failover', input('primary-failover', 'inc-abort'), {
      steps: scripted({ reverify: { next: 'abort' } }).steps,
      approvals: never,
    });

    expect(result.states).toEqual(flowPath(FAILOVER_FLOW, ['abort']));
  });

  it('records a dry run and releases the lock', async () => {
    const script = scripted({ ...AUTO, chooseCandidate: { next: 'dry-run' } });

    const result = await runRunbook('primary-failover', input('primary-failover', 'inc-dry'), {
      steps: script.steps,
      approvals: never,
    });

    expect(result.status).toBe('SUCCEEDED');
    expect(result.states).toEqual(flowPath(FAILOVER_FLOW, ['proceed', 'locked', 'dry-run']));
  });

  it('fails over once approved, with the decision at $.approval', async () => {
    const script = scripted({
      ...AUTO,
      chooseCandidate: { next: 'approve' },
      applyApproval: { next: 'approved' },
    });
    const decision: ApprovalDecision = {
      approved: true,
      by: 'arn:aws:iam::123456789012:user/erin',
      reason: 'ok',
    };

    const result = await runRunbook(
      'primary-failover',
      { ...input('primary-failover', 'inc-approved'), approvalTimeoutSeconds: 300 },
      { steps: script.steps, approvals: async () => decision },
    );

    expect(result.status).toBe('SUCCEEDED');
    expect(result.states).toEqual(
      flowPath(FAILOVER_FLOW, ['proceed', 'locked', 'approve', 'approved', 'done', 'done', 'done']),
    );
    expect(script.calls.find((call) => call.action === 'applyApproval')?.state.approval).toEqual(decision);
  });

  it('releases the lock when the approver rejects', async () => {
    const script = scripted({
      ...AUTO,
      chooseCandidate: { next: 'approve' },
      applyApproval: { next: 'rejected' },
    });

    const result = await runRunbook(
      'primary-failover',
      { ...input('primary-failover', 'inc-rejected'), approvalTimeoutSeconds: 300 },
      { steps: script.steps, approvals: async () => ({ approved: false, by: 'slack:dana' }) },
    );

    expect(result.states).toEqual(flowPath(FAILOVER_FLOW, ['proceed', 'locked', 'approve', 'rejected']));
  });

  it('expires the request when nobody decides within approvalTimeoutSeconds (States.Timeout → Expired)', async () => {
    const script = scripted({ ...AUTO, chooseCandidate: { next: 'approve' } });
    let aborted = false;

    const result = await runRunbook(
      'primary-failover',
      { ...input('primary-failover', 'inc-expired'), approvalTimeoutSeconds: 1 },
      {
        steps: script.steps,
        approvals: (token, state, signal) => {
          signal.addEventListener('abort', () => {
            aborted = true;
          });
          return never(token, state, signal);
        },
      },
    );

    expect(result.status).toBe('SUCCEEDED');
    expect(result.states).toEqual([
      'ReVerify',
      'TakeLock',
      'ChooseCandidate',
      'RequestApproval',
      'Expired',
      'ReleaseLock',
      'Done',
    ]);
    expect(aborted).toBe(true);
    // The Timeout catch keeps the state as it was (no error recorded, no decision).
    const expired = script.calls.find((call) => call.action === 'recordExpired');
    expect(expired?.state.error).toBeUndefined();
    expect(expired?.state.approval).toBeUndefined();
  });

  it('fails the execution (States.Runtime, uncaught) when approvalTimeoutSeconds is missing', async () => {
    const script = scripted({ ...AUTO, chooseCandidate: { next: 'approve' } });

    const result = await runRunbook('primary-failover', input('primary-failover', 'inc-no-timeout'), {
      steps: script.steps,
      approvals: never,
    });

    expect(result.status).toBe('FAILED');
    expect(result.error?.Error).toBe('States.Runtime');
    expect(result.states.at(-1)).toBe('RequestApproval');
  });

  it('retries Verify after two NotYetPrimaryError throws, then completes', async () => {
    const notYet = () => new NotYetPrimaryError('pg-3 still reports role replica');
    const script = scripted({ ...AUTO, verify: [notYet(), notYet(), { next: 'verified' }] });

    const result = await runRunbook('primary-failover', input('primary-failover', 'inc-verify'), {
      steps: script.steps,
      approvals: never,
      retryIntervalOverrides: { Verify: 0 },
    });

    expect(result.status).toBe('SUCCEEDED');
    expect(script.actions().filter((action) => action === 'verify')).toHaveLength(3);
    expect(result.states).toEqual(
      flowPath(FAILOVER_FLOW, ['proceed', 'locked', 'auto', 'done', 'done', 'done']),
    );
  });

  it('retries a TransientError three times, then marks the runbook failed', async () => {
    const transient = Object.assign(new Error('throttled'), { name: 'TransientError' });
    const script = scripted({ ...AUTO, promote: transient });

    const result = await runRunbook('primary-failover', input('primary-failover', 'inc-transient'), {
      steps: script.steps,
      approvals: never,
      retryIntervalOverrides: { Promote: 0 },
    });

    expect(script.actions().filter((action) => action === 'promote')).toHaveLength(4);
    expect(result.status).toBe('FAILED');
    expect(result.states.slice(-3)).toEqual(['Promote', 'MarkFailed', 'Failed']);
  });

  it('sends an ordinary error to MarkFailed with the error at $.error, and fails the execution', async () => {
    const script = scripted({ ...AUTO, fence: new TypeError('fence hook returned garbage') });

    const result = await runRunbook('primary-failover', input('primary-failover', 'inc-error'), {
      steps: script.steps,
      approvals: never,
    });

    expect(result.status).toBe('FAILED');
    expect(result.error?.Error).toBe('RunbookFailed');
    expect(result.states).toEqual([
      'ReVerify',
      'TakeLock',
      'ChooseCandidate',
      'Fence',
      'MarkFailed',
      'Failed',
    ]);
    expect(script.actions().filter((action) => action === 'fence')).toHaveLength(1);
    const markFailed = script.calls.find((call) => call.action === 'markFailed');
    expect(markFailed?.state.error?.Error).toBe('TypeError');
    expect(JSON.parse(markFailed?.state.error?.Cause ?? '{}')).toEqual({
      errorType: 'TypeError',
      errorMessage: 'fence hook returned garbage',
    });
  });

  it('marks the runbook failed on an unexpected next instead of failing the execution outright', async () => {
    const script = scripted({ ...AUTO, chooseCandidate: { next: 'maybe' } });

    const result = await runRunbook('primary-failover', input('primary-failover', 'inc-unexpected'), {
      steps: script.steps,
      approvals: never,
    });

    expect(result.states).toEqual(['ReVerify', 'TakeLock', 'ChooseCandidate', 'MarkFailed', 'Failed']);
  });

  it('marks the runbook failed when a step sets no next at all', async () => {
    const script = scripted({ ...AUTO, takeLock: {} });

    const result = await runRunbook('primary-failover', input('primary-failover', 'inc-no-next'), {
      steps: script.steps,
      approvals: never,
    });

    expect(result.states).toEqual(['ReVerify', 'TakeLock', 'MarkFailed', 'Failed']);
  });

  it('re-arms after NoCandidate (a refusal that looks again), ending when re-verification aborts', async () => {
    const result = await runRunbook('primary-failover', input('primary-failover', 'inc-none'), {
      steps: scripted({
        ...AUTO,
        reverify: [{ next: 'proceed' }, { next: 'abort' }],
        chooseCandidate: { next: 'no-candidate' },
        noCandidate: { next: 'refused', retryAfterSeconds: 5 },
      }).steps,
      approvals: never,
      ...fast,
    });

    expect(result.status).toBe('SUCCEEDED');
    expect(result.states).toEqual(
      flowPath(FAILOVER_FLOW, ['proceed', 'locked', 'no-candidate', 'refused', 'abort']),
    );
  });

  it('waits for an SSM Automation hook, polling until Success, then resumes at $.resume', async () => {
    const script = scripted({
      ...AUTO,
      promote: { next: 'ssm', ssm: { executionId: 'exec-1' }, resume: 'UpdateCluster' },
    });
    const polled: string[] = [];
    const statuses = ['InProgress', 'Success'];

    const result = await runRunbook('primary-failover', input('primary-failover', 'inc-ssm'), {
      steps: script.steps,
      approvals: never,
      getAutomationExecution: async (executionId) => {
        polled.push(executionId);
        return {
          AutomationExecution: { AutomationExecutionStatus: statuses[polled.length - 1] ?? 'Success' },
        };
      },
      ...fast,
    });

    expect(result.status).toBe('SUCCEEDED');
    expect(polled).toEqual(['exec-1', 'exec-1']);
    expect(result.states).toEqual([
      'ReVerify',
      'TakeLock',
      'ChooseCandidate',
      'Fence',
      'Promote',
      'WaitForSsm',
      'GetSsm',
      'WaitForSsm',
      'GetSsm',
      'Resume',
      'UpdateCluster',
      'Repoint',
      'Verify',
      'Complete',
      'Done',
    ]);
    expect(script.calls.find((call) => call.action === 'updateCluster')?.state.ssm).toEqual({
      executionId: 'exec-1',
      execution: { AutomationExecutionStatus: 'Success' },
    });
  });

  it('marks the runbook failed when the SSM Automation fails', async () => {
    const script = scripted({
      ...AUTO,
      fence: { next: 'ssm', ssm: { executionId: 'exec-2' }, resume: 'Promote' },
    });

    const result = await runRunbook('primary-failover', input('primary-failover', 'inc-ssm-failed'), {
      steps: script.steps,
      approvals: never,
      getAutomationExecution: async () => ({ AutomationExecution: { AutomationExecutionStatus: 'Failed' } }),
      ...fast,
    });

    expect(result.states.slice(-5)).toEqual(['Fence', 'WaitForSsm', 'GetSsm', 'MarkFailed', 'Failed']);
  });

  it('names an SDK error of GetSsm as Step Functions does (Ssm.<name>Exception) at $.error', async () => {
    const script = scripted({
      ...AUTO,
      fence: { next: 'ssm', ssm: { executionId: 'gone' }, resume: 'Promote' },
    });

    await runRunbook('primary-failover', input('primary-failover', 'inc-ssm-error'), {
      steps: script.steps,
      approvals: never,
      getAutomationExecution: async () => {
        throw Object.assign(new Error('no such execution'), { name: 'AutomationExecutionNotFoundException' });
      },
      ...fast,
    });

    const markFailed = script.calls.find((call) => call.action === 'markFailed');
    expect(markFailed?.state.error).toEqual({
      Error: 'Ssm.AutomationExecutionNotFoundException',
      Cause: 'no such execution',
    });
  });

  it('stops a run when its signal is aborted (status ABORTED)', async () => {
    const controller = new AbortController();
    const script = scripted({ ...AUTO, chooseCandidate: { next: 'approve' } });

    const result = await runRunbook(
      'primary-failover',
      { ...input('primary-failover', 'inc-aborted'), approvalTimeoutSeconds: 300 },
      {
        steps: script.steps,
        approvals: (token, state, signal) => {
          controller.abort();
          return never(token, state, signal);
        },
        signal: controller.signal,
      },
    );

    expect(result.status).toBe('ABORTED');
    expect(result.states.at(-1)).toBe('RequestApproval');
  });
});

describe('replica-recovery', () => {
  const RECOVERY: Script = {
    reverify: { next: 'proceed' },
    takeLock: { next: 'locked', mode: 'auto', verifyAfterSeconds: 30 },
    restartReplication: { next: 'done' },
    verifyProgress: { next: 'recovered' },
  };

  it('restarts replication, waits, and completes when the replica recovered', async () => {
    const script = scripted(RECOVERY);

    const result = await runRunbook('replica-recovery', input('replica-recovery', 'rec-ok'), {
      steps: script.steps,
      approvals: never,
      ...fast,
    });

    expect(result.status).toBe('SUCCEEDED');
    expect(result.states).toEqual(
      flowPath(RECOVERY_FLOW, ['proceed', 'locked', 'auto', 'done', 'recovered']),
    );
  });

  it('escalates when the replica did not recover, checks again after a rebuild, then pages', async () => {
    const script = scripted({
      ...RECOVERY,
      verifyProgress: { next: 'not-recovered' },
      escalate: [{ next: 'rebuilt' }, { next: 'paged' }],
    });

    const result = await runRunbook('replica-recovery', input('replica-recovery', 'rec-escalated'), {
      steps: script.steps,
      approvals: never,
      ...fast,
    });

    expect(result.status).toBe('SUCCEEDED');
    expect(result.states).toEqual(
      flowPath(RECOVERY_FLOW, [
        'proceed',
        'locked',
        'auto',
        'done',
        'not-recovered',
        'rebuilt',
        'not-recovered',
        'paged',
      ]),
    );
  });

  it('waits $.verifyAfterSeconds in WaitForProgress (Wait SecondsPath) when not overridden', async () => {
    const script = scripted({
      ...RECOVERY,
      takeLock: { next: 'locked', mode: 'auto', verifyAfterSeconds: 1 },
    });
    const started = Date.now();

    const result = await runRunbook('replica-recovery', input('replica-recovery', 'rec-wait'), {
      steps: script.steps,
      approvals: never,
    });

    expect(result.status).toBe('SUCCEEDED');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it('asks for approval in approve mode and restarts replication once approved', async () => {
    const script = scripted({
      ...RECOVERY,
      takeLock: { next: 'locked', mode: 'approve', approvalTimeoutSeconds: 60, verifyAfterSeconds: 0 },
      applyApproval: { next: 'approved' },
    });

    const result = await runRunbook('replica-recovery', input('replica-recovery', 'rec-approve'), {
      steps: script.steps,
      approvals: async () => ({ approved: true, by: 'ops' }),
      ...fast,
    });

    expect(result.states).toEqual(
      flowPath(RECOVERY_FLOW, ['proceed', 'locked', 'approve', 'approved', 'done', 'recovered']),
    );
  });

  it('records a dry run in dry-run mode', async () => {
    const result = await runRunbook('replica-recovery', input('replica-recovery', 'rec-dry'), {
      steps: scripted({ ...RECOVERY, takeLock: { next: 'locked', mode: 'dry-run' } }).steps,
      approvals: never,
    });

    expect(result.states).toEqual(flowPath(RECOVERY_FLOW, ['proceed', 'locked', 'dry-run']));
  });

  it('resumes at WaitForProgress after a restartReplication SSM hook', async () => {
    const script = scripted({
      ...RECOVERY,
      restartReplication: { next: 'ssm', ssm: { executionId: 'exec-r' }, resume: 'WaitForProgress' },
    });

    const result = await runRunbook('replica-recovery', input('replica-recovery', 'rec-ssm'), {
      steps: script.steps,
      approvals: never,
      getAutomationExecution: async () => ({ AutomationExecution: { AutomationExecutionStatus: 'Success' } }),
      ...fast,
    });

    expect(result.states).toEqual([
      'ReVerify',
      'TakeLock',
      'Mode',
      'RestartReplication',
      'WaitForSsm',
      'GetSsm',
      'Resume',
      'WaitForProgress',
      'VerifyProgress',
      'Complete',
      'Done',
    ]);
  });

  it('marks the runbook failed in mode off (no branch for it)', async () => {
    const result = await runRunbook('replica-recovery', input('replica-recovery', 'rec-off'), {
      steps: scripted({ ...RECOVERY, takeLock: { next: 'locked', mode: 'off' } }).steps,
      approvals: never,
    });

    expect(result.states).toEqual(['ReVerify', 'TakeLock', 'Mode', 'MarkFailed', 'Failed']);
  });
});
