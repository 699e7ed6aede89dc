/** The cluster lock steps: TakeLock (or wait, or a switchover refused) and ReleaseLock. */
import { lockRequestOf } from '../core/manual-failover';
import { type LockRequest, lockVerdict, rearmSeconds } from '../core/recovery';
import { failoverRequest, nodeRequested, resuming, switchover } from './run-state';
import type { RunbookSteps, StepDeps } from './step-deps';
import type { StepTools } from './step-tools';

/** TakeLock and ReleaseLock. */
export function lockSteps(deps: StepDeps, tools: StepTools): Pick<RunbookSteps, 'takeLock' | 'releaseLock'> {
  const { record, switchoverEnded } = tools;

  return {
    async takeLock(state) {
      const now = deps.clock();
      const cluster = await deps.recovery.getCluster(state.clusterId);
      // What the operator's request lifts: a rejoin or rebuild is held by neither a pause nor maintenance,
      // a manual failover by no pause (and with force no cooldown).
      // Resuming a half-done failover (its own lock, the epoch moved) is not held either: the cluster may
      // have no primary until it finishes.
      const lift: LockRequest =
        nodeRequested(state) || resuming(state, cluster)
          ? { ignorePause: true, ignoreMaintenance: true }
          : lockRequestOf(failoverRequest(state));
      if (
        await deps.recovery.takeLock(
          state.clusterId,
          state.incidentId,
          now,
          cluster.policy.recoveryBlockSeconds,
          state.runbook,
          lift,
        )
      ) {
        const holder =
          cluster.lockIncidentId !== undefined && cluster.lockIncidentId !== state.incidentId
            ? await deps.recovery.findIncident(state.clusterId, cluster.lockIncidentId)
            : undefined;
        const preempted = cluster.lockIncidentId !== undefined && cluster.lockIncidentId !== state.incidentId;
        await record(
          state,
          'locked',
          `took the cluster lock (epoch ${cluster.epoch})${preempted ? ` (preempting replica recovery ${cluster.lockIncidentId}${holder ? ` of ${holder.nodeId}: it is not promoted, a rebuild may be wiping it` : ''})` : ''}`,
        );
        // The node a preempted replica recovery was acting on is not a candidate: its run may have started a
        // rebuild hook that is wiping it (preemption stops the run between steps, not a hook under way).
        return {
          ...state,
          next: 'locked',
          epoch: cluster.epoch,
          ...(holder ? { preemptedNodeId: holder.nodeId } : {}),
        };
      }
      const fresh = await deps.recovery.getCluster(state.clusterId);
      const verdict = lockVerdict(fresh, state.incidentId, now, state.runbook, lift);
      const reason = verdict.ok ? 'the lock changed hands while it was taken' : verdict.reason;
      if (switchover(state)) {
        // An operator's request is not queued behind a recovery or the cooldown: it is refused, now.
        const detail = await switchoverEnded(
          state,
          'refused',
          `switchover refused: ${reason}; nothing touched`,
        );
        return { ...state, next: 'blocked', outcome: detail };
      }
      const retryAfterSeconds = rearmSeconds(verdict, fresh.policy, now);
      const until = new Date(now + retryAfterSeconds * 1000).toISOString();
      // One record (and one notification) per distinct reason, however often the run re-arms.
      await record(state, 'waiting', `waiting: ${reason}; looking again at ${until}`, {
        notify: true,
        change: { outcome: `waiting: ${reason}` },
        once: reason,
      });
      return { ...state, next: 'blocked', outcome: `waiting: ${reason}`, retryAfterSeconds };
    },

    async releaseLock(state) {
      await deps.recovery.releaseLock(state.clusterId, state.incidentId);
      await record(state, 'released', 'released the cluster lock');
      return { ...state, next: 'done' };
    },
  };
}
