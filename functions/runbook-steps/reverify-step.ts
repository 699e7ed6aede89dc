/**
 * ReVerify, the first step of a failover and of a replica recovery: the trouble still holds on fresh state
 * (and an operator's rejoin or rebuild still applies), else the run ends, or waits for a primary that may
 * be alive.
 */
import { primaryEvidence } from '../core/evidence';
import type { Incident } from '../core/incidents';
import type { NodeState } from '../core/node-state';
import type { ClusterRecoveryState } from '../core/recovery';
import { nodeRequestContextOf, planRebuild, planRejoin } from '../core/rejoin';
import type { RunbookState, StepResult } from '../core/runbook';
import {
  aliveRetrySeconds,
  expectedStatus,
  failoverRequest,
  nodeRequested,
  notThePrimary,
  resuming,
  supersededBy,
} from './run-state';
import type { RunbookSteps, StepDeps } from './step-deps';
import type { StepTools } from './step-tools';

/** The ReVerify step. */
export function reverifyStep(deps: StepDeps, tools: StepTools): Pick<RunbookSteps, 'reverify'> {
  const { record } = tools;

  /**
   * ReVerify of an operator's rejoin or rebuild: the incident is still open and the request still holds on
   * fresh state (the node may have been fixed meanwhile: the run ends "nothing to do", the incident closed
   * with that outcome). The lock is TakeLock's business (another holder: the run waits and looks again).
   * The mode does not matter: the operator's request is the decision.
   */
  const reverifyRequest = async (
    state: RunbookState,
    base: RunbookState,
    cluster: ClusterRecoveryState,
    nodes: ReadonlyMap<string, NodeState>,
    incident: Incident | undefined,
  ): Promise<StepResult<'reverify'>> => {
    if (incident !== undefined && incident.state !== 'OPEN') {
      const detail = `incident ${state.incidentId} is ${incident.state}; nothing done`;
      await record(state, 'aborted', detail);
      return { ...base, next: 'abort', outcome: `aborted: ${detail}` };
    }
    const context = nodeRequestContextOf(state.clusterId, { ...cluster, lockIncidentId: undefined }, nodes);
    const plan =
      expectedStatus(state) === 'REBUILD'
        ? planRebuild(context, state.nodeId)
        : planRejoin(context, state.nodeId);
    const by = `asked by ${state.requested?.by ?? 'an operator'}${state.requested?.reason ? ` (${state.requested.reason})` : ''}`;
    if ('refused' in plan) {
      const detail = `${plan.refused}; nothing done (${by}, re-checked on fresh state)`;
      await record(state, 'ended', detail, {
        notify: true,
        change: { outcome: detail, state: 'RESOLVED', resolvedAt: deps.clock() },
      });
      return { ...base, next: 'abort', outcome: detail };
    }
    await record(state, 'verified', `${by}: ${plan.what} (re-checked on fresh state)`, { notify: true });
    return {
      ...base,
      kind: plan.kind,
      mode: plan.kind === 'REBUILD' ? 'rebuild' : 'rejoin',
      next: 'proceed',
    };
  };

  return {
    async reverify(state) {
      const now = deps.clock();
      const [cluster, snapshot, incident] = await Promise.all([
        deps.recovery.getCluster(state.clusterId),
        deps.nodes.loadCluster(state.clusterId),
        deps.recovery.getIncident(state.clusterId, state.incidentId, state.openedAt),
      ]);
      const node = snapshot.nodes.get(state.nodeId);
      const base = {
        ...state,
        mode: cluster.mode,
        approvalTimeoutSeconds: cluster.approvalTimeoutSeconds,
        verifyAfterSeconds: deps.verifyAfterSeconds ?? 30,
      };
      // A run the operator restarted the incident under a newer execution (a manual failover taking it
      // over, `recover`) must not act: the incident, the lock and the epoch are the new run's.
      const superseded = supersededBy(state, incident);
      if (superseded !== undefined) {
        await record(state, 'aborted', `superseded by execution ${superseded}: this run stops, nothing done`);
        return { ...base, next: 'abort', outcome: `aborted: superseded by execution ${superseded}` };
      }
      if (nodeRequested(state)) return reverifyRequest(state, base, cluster, snapshot.nodes, incident);
      let problem: string | undefined;
      const resumed = resuming(state, cluster);
      if (!node) problem = `node ${state.nodeId} is unknown`;
      else if (incident !== undefined && incident.state !== 'OPEN')
        problem = `incident ${state.incidentId} is ${incident.state}`;
      else if (resumed) {
        // Half done: this incident fenced the old primary and moved the epoch. Stopping now would leave the
        // cluster without a primary; Fence asks the old primary itself again before anything else.
      } else if (state.runbook === 'primary-failover' && notThePrimary(state, cluster) !== undefined) {
        problem = notThePrimary(state, cluster);
      } else if (state.runbook === 'primary-failover') {
        const evidence = primaryEvidence(node, [...snapshot.nodes.values()], snapshot.policy, now);
        if (evidence.kind === 'recovered') problem = evidence.reason;
        else if (evidence.kind === 'alive') {
          const retryAfterSeconds = aliveRetrySeconds(snapshot.policy);
          await record(
            state,
            `waiting: ${evidence.reason}`,
            `${evidence.reason}: not failing over a node that may be alive; looking again in ${retryAfterSeconds}s`,
          );
          return { ...base, next: 'wait', retryAfterSeconds };
        }
      } else if (node.status !== expectedStatus(state))
        problem = `${state.nodeId} is ${node.status} now, no longer ${expectedStatus(state)}`;
      // An operator's failover request is the decision, in any mode; so is resuming a half-done failover.
      if (cluster.mode === 'off' && failoverRequest(state) === undefined && !resumed)
        problem = 'the cluster mode is off';
      if (problem) {
        await record(state, 'aborted', `re-verification failed: ${problem}; nothing done`, { notify: true });
        return { ...base, next: 'abort', outcome: `aborted: ${problem}` };
      }
      await record(
        state,
        'verified',
        resumed
          ? `resuming the failover this incident began: it moved the epoch to ${cluster.epoch} and holds the lock; ${state.nodeId} is ${node?.status ?? 'unknown'} (it is asked again before anything is done)`
          : `re-verified with fresh state: ${node?.statusReason ?? ''}`,
      );
      return { ...base, next: 'proceed' };
    },
  };
}
