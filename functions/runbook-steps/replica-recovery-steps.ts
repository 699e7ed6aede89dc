/**
 * The replica recovery's steps: RestartReplication (or move the node under the primary), VerifyProgress
 * (its applied position, or its own reports for a rejoin or rebuild), Escalate (a rebuild hook, else page);
 * a run whose lock a failover took stops.
 */
import { HookFailedError } from '../core/hooks';
import type { NodeState } from '../core/node-state';
import type { Policy } from '../core/policy';
import type { ClusterRecoveryState } from '../core/recovery';
import { REJOIN_KINDS, type RunbookState } from '../core/runbook';
import { endpoint } from './node-endpoint';
import { expectedStatus, nodeRequested, targetPrimary } from './run-state';
import type { RunbookSteps, StepDeps } from './step-deps';
import type { StepTools } from './step-tools';

/** Whether the run is judged on the node's fresh reports (a rejoin, or an operator's rebuild). */
function judgedOnReports(state: RunbookState): boolean {
  return REJOIN_KINDS.includes(expectedStatus(state)) || expectedStatus(state) === 'REBUILD';
}

/** Whether the node's reports since `since` say it replicates from `primary`. */
function rejoinedUnder(node: NodeState | undefined, primary: string | undefined, since: number): boolean {
  return (
    node !== undefined &&
    primary !== undefined &&
    node.role === 'replica' &&
    node.sourceNodeId === primary &&
    node.lastHeartbeatAt > since
  );
}

/** How long a rejoined node has to report itself under the primary: a few reports, at least its timeout. */
function rejoinReportSeconds(policy: Policy): number {
  return Math.max(policy.heartbeatTimeoutSeconds, 3 * policy.heartbeatIntervalSeconds);
}

/** RestartReplication, VerifyProgress and Escalate. */
export function replicaRecoverySteps(
  deps: StepDeps,
  tools: StepTools,
): Pick<RunbookSteps, 'restartReplication' | 'verifyProgress' | 'escalate'> {
  const { record, runHook, afterHook } = tools;

  /** A replica-recovery run whose lock a failover took: it stops, touching nothing more. */
  const preempted = async (
    state: RunbookState,
    cluster: ClusterRecoveryState,
  ): Promise<Omit<RunbookState, 'next'> & { next: 'preempted' }> => {
    const detail = `stopped: the cluster lock now belongs to ${cluster.lockIncidentId ?? 'nobody'} (${cluster.lockRunbook ?? 'released'}); a failover takes precedence, it repoints this node`;
    // An operator's request has no node transition to close its incident: it ends here, saying why.
    await record(state, 'preempted', detail, {
      ...(nodeRequested(state)
        ? { notify: true, change: { outcome: detail, state: 'RESOLVED', resolvedAt: deps.clock() } }
        : {}),
    });
    return { ...state, next: 'preempted', outcome: detail };
  };

  return {
    async restartReplication(state) {
      const cluster = await deps.recovery.getCluster(state.clusterId);
      if (cluster.lockIncidentId !== state.incidentId) return preempted(state, cluster);
      const snapshot = await deps.nodes.loadCluster(state.clusterId);
      const replica = snapshot.nodes.get(state.nodeId);
      const engine = replica?.engine ?? 'generic';
      const actedAt = deps.clock();
      if (REJOIN_KINDS.includes(expectedStatus(state))) {
        const primary = targetPrimary(state, cluster, snapshot.nodes);
        if (primary === undefined || primary === state.nodeId)
          throw new HookFailedError(
            `${state.nodeId} cannot be moved under the recorded primary: the cluster has ${primary === undefined ? 'no recorded primary' : 'it as its recorded primary'}`,
          );
        const steps: string[] = [];
        if (expectedStatus(state) === 'SPLIT_BRAIN') {
          // Demote: Redis REPLICAOF the recorded primary; MySQL/MariaDB read-only; PostgreSQL read-only with
          // sessions ended (it cannot follow a new timeline without pg_rewind or a rebuild).
          const fenced = await runHook(state, cluster, 'fence', state.nodeId, primary);
          steps.push(fenced.detail);
          if (fenced.status === 'started') {
            await record(state, 'demoted', steps.join(' '));
            return { ...afterHook(state, fenced, 'WaitForProgress'), actedAt };
          }
        }
        if (expectedStatus(state) === 'WRONG_SOURCE' || engine === 'mysql' || engine === 'mariadb') {
          const repointed = await runHook(state, cluster, 'repoint', state.nodeId, primary);
          steps.push(repointed.detail);
          await record(state, 'rejoined', steps.join(' '), { notify: true });
          return { ...afterHook(state, repointed, 'WaitForProgress'), actedAt };
        }
        await record(state, 'demoted', steps.join(' '), { notify: true });
        return { ...state, next: 'done', actedAt };
      }
      const primary =
        replica?.sourceNodeId ??
        cluster.primaryNodeId ??
        [...snapshot.nodes.values()].find((n) => n.role === 'primary')?.nodeId;
      const baseline = await deps.hooks
        .replicationProgress(engine, endpoint(cluster, state.nodeId), state.clusterId)
        .catch(() => undefined);
      const result = await runHook(state, cluster, 'restartReplication', state.nodeId, primary);
      await record(state, 'restarted', result.detail);
      return { ...afterHook(state, result, 'WaitForProgress'), ...(baseline ? { baseline } : {}), actedAt };
    },

    async verifyProgress(state) {
      const cluster = await deps.recovery.getCluster(state.clusterId);
      const snapshot = await deps.nodes.loadCluster(state.clusterId);
      const node = snapshot.nodes.get(state.nodeId);
      if (judgedOnReports(state)) {
        // Fresh reports of the node since the run acted: it must replicate from the recorded primary.
        const primary = targetPrimary(state, cluster, snapshot.nodes);
        const actedAt = state.actedAt ?? 0;
        const rejoined = rejoinedUnder(node, primary, actedAt);
        // No report since the run acted, or one a probe read just before the action took effect, is no
        // verdict yet: look again, until the node has had heartbeatTimeoutSeconds to report (it would be
        // SILENT by then anyway).
        if (!rejoined && deps.clock() < actedAt + rejoinReportSeconds(snapshot.policy) * 1000)
          return { ...state, next: 'not-yet' };
        const detail = rejoined
          ? `${state.nodeId} now replicates from ${primary} (reported ${node?.statusReason ?? ''})`
          : `${state.nodeId} does not report replicating from ${primary ?? 'the recorded primary'} yet (role ${node?.role ?? 'unknown'}, source ${node?.sourceNodeId ?? 'none'}, status ${node?.status ?? 'unknown'})`;
        await record(state, rejoined ? 'progressing' : 'not-progressing', detail);
        return { ...state, next: rejoined ? 'recovered' : 'not-recovered' };
      }
      const engine = node?.engine ?? 'generic';
      const now = await deps.hooks
        .replicationProgress(engine, endpoint(cluster, state.nodeId), state.clusterId)
        .catch(() => undefined);
      const advanced = now !== undefined && now !== state.baseline;
      const detail = advanced
        ? `${state.nodeId} applied position moved from ${state.baseline ?? 'unknown'} to ${now}`
        : `${state.nodeId} made no progress (applied ${now ?? 'unknown'})`;
      await record(state, advanced ? 'progressing' : 'not-progressing', detail);
      return { ...state, next: advanced ? 'recovered' : 'not-recovered' };
    },

    async escalate(state) {
      const cluster = await deps.recovery.getCluster(state.clusterId);
      if (cluster.lockIncidentId !== state.incidentId) return preempted(state, cluster);
      const escalations = (state.escalations ?? 0) + 1;
      const rebuild = cluster.hooks.rebuild;
      const primary = targetPrimary(state, cluster, (await deps.nodes.loadCluster(state.clusterId)).nodes);
      if (rebuild && rebuild.type !== 'builtin' && escalations === 1) {
        const result = await runHook(state, cluster, 'rebuild', state.nodeId, primary);
        await record(state, 'rebuild', result.detail, { notify: true });
        const after = afterHook({ ...state, escalations, actedAt: deps.clock() }, result, 'WaitForProgress');
        return after.next === 'done' ? { ...after, next: 'rebuilt' } : { ...after, next: 'ssm' };
      }
      const what =
        expectedStatus(state) === 'SPLIT_BRAIN'
          ? `${state.nodeId} was demoted but does not follow ${primary ?? 'the recorded primary'}${escalations > 1 ? ' after a rebuild' : ''} (a PostgreSQL server needs pg_rewind or a rebuild hook to rejoin)`
          : expectedStatus(state) === 'WRONG_SOURCE'
            ? `${state.nodeId} still does not replicate from ${primary ?? 'the recorded primary'} after it was repointed${escalations > 1 ? ' and rebuilt' : ''}`
            : expectedStatus(state) === 'REBUILD'
              ? `${state.nodeId} does not replicate from ${primary ?? 'the recorded primary'}${escalations > 1 ? ' after the rebuild hook ran' : ' and the rebuild hook is gone'}`
              : `${state.nodeId} did not recover after restarting replication${escalations > 1 ? ' and a rebuild' : ''}`;
      const detail = `paged: ${what}; no rebuild hook left to try`;
      await record(state, 'paged', detail, { notify: true });
      return { ...state, escalations, next: 'paged', outcome: detail };
    },
  };
}
