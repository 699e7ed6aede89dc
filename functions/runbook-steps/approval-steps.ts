/**
 * The steps between the plan and acting on it: a dry run recorded, approval asked for, the approver's
 * decision applied, an expired approval recorded.
 */
import { planFor } from '../core/operator';
import { REJOIN_KINDS } from '../core/runbook';
import { expectedStatus, switchover } from './run-state';
import type { RunbookSteps, StepDeps } from './step-deps';
import type { StepTools } from './step-tools';

/** RecordDryRun, RequestApproval, ApplyApproval and RecordExpired. */
export function approvalSteps(
  deps: StepDeps,
  tools: StepTools,
): Pick<RunbookSteps, 'recordDryRun' | 'requestApproval' | 'applyApproval' | 'recordExpired'> {
  const { record } = tools;

  return {
    async recordDryRun(state) {
      await record(
        state,
        'dry-run',
        state.runbook === 'primary-failover'
          ? `dry run: would fence ${state.nodeId}, promote ${state.candidate}${state.repoint?.length ? ` and repoint ${state.repoint.join(', ')}` : ''}; nothing was touched`
          : switchover(state)
            ? `dry run: would stop writes on ${state.nodeId}, wait until ${state.candidate} has applied its final position, promote ${state.candidate}, make ${state.nodeId} follow it${state.repoint?.length ? ` and repoint ${state.repoint.join(', ')}` : ''}; nothing was touched`
            : `dry run: would restart replication on ${state.nodeId}; nothing was touched`,
        {
          notify: true,
          change: {
            outcome: 'dry run: nothing touched',
            ...(switchover(state) ? { state: 'RESOLVED', resolvedAt: deps.clock() } : {}),
          },
        },
      );
      return { ...state, next: 'done', outcome: 'dry run' };
    },

    async requestApproval(state, taskToken) {
      if (!taskToken) throw new Error('requestApproval needs the task token ($$.Task.Token)');
      const incident = await deps.recovery.getIncident(state.clusterId, state.incidentId, state.openedAt);
      const risk = planFor(incident, state.candidate)?.dataAtRisk;
      const what =
        state.runbook === 'primary-failover'
          ? `promote ${state.candidate} and repoint ${state.repoint?.join(', ') || 'no other replica'}${risk ? ` (${risk})` : ''}`
          : switchover(state)
            ? `switch the primary role over from ${state.nodeId} to ${state.candidate} (writes stop for the catch-up; no acknowledged write is lost)`
            : `${REJOIN_KINDS.includes(expectedStatus(state)) ? 'move' : 'restart replication on'} ${state.nodeId}${REJOIN_KINDS.includes(expectedStatus(state)) ? ' under the recorded primary' : ''}`;
      await record(
        state,
        'approval-requested',
        `approval needed to ${what}; expires in ${state.approvalTimeoutSeconds}s (expiry = reject)`,
        {
          notify: true,
          change: { approvalToken: taskToken },
          nextSteps: [
            `Approve: npx replica-sentinel approve ${state.incidentId} --cluster ${state.clusterId}`,
            `Reject: npx replica-sentinel reject ${state.incidentId} --cluster ${state.clusterId}`,
          ],
        },
      );
      return state;
    },

    async applyApproval(state) {
      const decision = state.approval;
      const approved = decision?.approved === true;
      const detail = `${approved ? 'approved' : 'rejected'} by ${decision?.by ?? 'unknown'}${decision?.reason ? `: ${decision.reason}` : ''}`;
      await record(state, approved ? 'approved' : 'rejected', detail, {
        notify: true,
        change: {
          approvalToken: undefined,
          ...(approved ? {} : { outcome: detail }),
          ...(!approved && switchover(state) ? { state: 'RESOLVED', resolvedAt: deps.clock() } : {}),
        },
      });
      return { ...state, next: approved ? 'approved' : 'rejected', ...(approved ? {} : { outcome: detail }) };
    },

    async recordExpired(state) {
      const detail = `approval expired after ${state.approvalTimeoutSeconds}s: treated as rejected; nothing was touched`;
      await record(state, 'expired', detail, {
        notify: true,
        change: {
          approvalToken: undefined,
          outcome: detail,
          ...(switchover(state) ? { state: 'RESOLVED', resolvedAt: deps.clock() } : {}),
        },
      });
      return { ...state, next: 'done', outcome: detail };
    },
  };
}
