/**
 * The steps that end a runbook: Complete, NoCandidate (refused, looking again), MarkFailed; and the outcome
 * (the RunbookOutcomes dimension) an ending step counts as.
 */
import { planFor } from '../core/operator';
import type { RunbookAction, RunbookState } from '../core/runbook';
import { expectedStatus, nodeRequested, switchover, targetPrimary } from './run-state';
import type { RunbookSteps, StepDeps } from './step-deps';
import type { StepTools } from './step-tools';

/**
 * How a runbook ended, when `action` ended it with `result` (recovered, paged, no-candidate, failed,
 * dry-run, expired, rejected); undefined for the steps in between. The RunbookOutcomes metric's dimension.
 */
export function runbookOutcome(action: RunbookAction, result: RunbookState): string | undefined {
  switch (action) {
    case 'complete':
      return result.outcome?.startsWith('paged') ? 'paged' : 'recovered';
    case 'noCandidate':
      return 'no-candidate';
    case 'markFailed':
      return 'failed';
    case 'recordDryRun':
      return 'dry-run';
    case 'recordExpired':
      return 'expired';
    case 'applyApproval':
      return result.next === 'rejected' ? 'rejected' : undefined;
    default:
      return undefined;
  }
}

/** Complete, NoCandidate and MarkFailed. */
export function outcomeSteps(
  deps: StepDeps,
  tools: StepTools,
): Pick<RunbookSteps, 'complete' | 'noCandidate' | 'markFailed'> {
  const { record, runHook } = tools;

  return {
    async complete(state) {
      const now = deps.clock();
      const failover = state.runbook === 'primary-failover';
      const paged = state.outcome?.startsWith('paged') === true;
      const risk = failover
        ? planFor(
            await deps.recovery.getIncident(state.clusterId, state.incidentId, state.openedAt),
            state.candidate,
          )?.dataAtRisk
        : undefined;
      const detail = failover
        ? `recovered: ${state.candidate} promoted at epoch ${state.epoch}${state.repoint?.length ? `, ${state.repoint.join(', ')} repointed` : ''}; ${state.nodeId} fenced${risk ? `; ${risk}` : ''}`
        : switchover(state)
          ? `switched over: ${state.candidate} is the primary at epoch ${state.epoch} (it had applied ${state.nodeId}'s final position ${state.finalPosition ?? '?'} before its promotion: no acknowledged write lost); ${state.outcome ?? `${state.nodeId} follows it`}${state.repoint?.length ? `; ${state.repoint.join(', ')} repointed` : ''}`
          : paged
            ? `${state.outcome}: the incident stays open for a human`
            : nodeRequested(state)
              ? `${expectedStatus(state) === 'REBUILD' ? 'rebuilt' : 'rejoined'}: ${state.nodeId} replicates from ${targetPrimary(state, await deps.recovery.getCluster(state.clusterId), (await deps.nodes.loadCluster(state.clusterId)).nodes) ?? 'the primary'} (asked by ${state.requested?.by ?? 'an operator'})`
              : `recovered: ${state.nodeId} is applying changes again`;
      await record(state, 'completed', detail, {
        notify: true,
        change: paged ? { outcome: detail } : { outcome: detail, state: 'RESOLVED', resolvedAt: now },
      });
      // Only a failover starts the cluster's cooldown (recoveryBlockSeconds): it guards against primaries
      // ping-ponging. A replica that was restarted must not block the failover of a primary that dies next.
      await deps.recovery.releaseLock(
        state.clusterId,
        state.incidentId,
        failover && !paged ? now : undefined,
      );
      return { ...state, next: 'done', outcome: detail };
    },

    async noCandidate(state) {
      // Refused, not ended: a replica that reported late may be eligible at the next look, and an operator may
      // change the configuration; the run pages once and looks again until the primary is back or a safe
      // candidate exists.
      const snapshot = await deps.nodes.loadCluster(state.clusterId);
      const retryAfterSeconds = Math.max(5, Math.ceil(2 * snapshot.policy.heartbeatTimeoutSeconds));
      const detail = `failover refused, nothing fenced or promoted: ${state.outcome ?? ''}. A human must decide; looking again every ${retryAfterSeconds}s`;
      await deps.recovery.releaseLock(state.clusterId, state.incidentId);
      await record(state, 'no-candidate', detail, { notify: true, change: { outcome: detail } });
      return { ...state, next: 'refused', outcome: detail, retryAfterSeconds };
    },

    async markFailed(state) {
      const error = state.error
        ? `${state.error.Error ?? 'Error'}: ${String(state.error.Cause ?? '').slice(0, 500)}`
        : // A Choice default leads here without an error: say what the flow held instead.
          `the flow could not route next=${state.next ?? '(none)'} mode=${state.mode ?? '(none)'} resume=${state.resume ?? '(none)'}${state.ssm?.execution ? ` ssm=${state.ssm.execution.AutomationExecutionStatus}` : ''}`;
      // A run that has fenced nothing (no epoch of its own) leaves nothing half done: it releases the lock, so
      // the next trouble of the cluster is handled. One that moved the epoch leaves the lock to a human.
      const cluster = await deps.recovery.getCluster(state.clusterId);
      const fenced = state.runbook !== 'replica-recovery' && cluster.epochIncidentId === state.incidentId;
      // A switchover that failed before it promoted anything gives the old primary its writes back.
      let restored = '';
      if (
        switchover(state) &&
        !fenced &&
        cluster.lockIncidentId === state.incidentId &&
        (state.finalPosition !== undefined || state.writesStoppedAt !== undefined)
      ) {
        restored = await runHook(state, cluster, 'resumeWrites', state.nodeId, undefined)
          .then((r) => ` ${r.detail}`)
          .catch(
            (e: unknown) =>
              ` Writes could NOT be restored on ${state.nodeId} (${(e as Error).message}): a human must.`,
          );
      }
      if (!fenced) await deps.recovery.releaseLock(state.clusterId, state.incidentId);
      const detail = fenced
        ? `runbook failed: ${error}. It had ${switchover(state) ? `moved the epoch to ${cluster.epoch} to promote ${state.candidate ?? 'the candidate'}` : `fenced ${state.nodeId} at epoch ${cluster.epoch}`}: the cluster lock stays held; a human must look, then clear it.`
        : `runbook failed: ${error}. Nothing was fenced or promoted; the cluster lock is released.${restored}`;
      await record(state, 'failed', detail, { notify: true, change: { state: 'FAILED', outcome: detail } });
      return { ...state, next: 'failed', outcome: detail };
    },
  };
}
