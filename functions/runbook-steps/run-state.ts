/**
 * What the steps read from a run's state (and the cluster's): which runbook and request it is, the status it
 * was started for, whether another execution superseded it, whether its node is still the primary, the
 * primary a rejoin moves the node under, and how long it waits for a primary that may be alive.
 */
import { executionNameFor, type Incident } from '../core/incidents';
import { halfDoneBy } from '../core/manual-failover';
import type { NodeState } from '../core/node-state';
import type { Policy } from '../core/policy';
import type { ClusterRecoveryState } from '../core/recovery';
import { nodeRequestContextOf, rejoinPrimary } from '../core/rejoin';
import type { RunbookState } from '../core/runbook';

/** The status a replica-recovery run was started for: its incident's kind (STALLED for older executions). */
export function expectedStatus(state: RunbookState): string {
  return state.kind ?? (state.runbook === 'primary-failover' ? 'DEAD' : 'STALLED');
}

/** A replica-recovery run an operator asked for (`rejoin`, `rebuild`): its incident has no LATEST pointer. */
export function nodeRequested(state: RunbookState): boolean {
  return state.runbook === 'replica-recovery' && state.requested !== undefined;
}

/**
 * The execution that replaced this one on its incident (an operator's takeover or `recover` starts the
 * incident's next attempt under a new execution name), or undefined while this run is the incident's own.
 */
export function supersededBy(
  state: RunbookState,
  incident: Pick<Incident, 'incidentId' | 'flaps' | 'attempt'> | undefined,
): string | undefined {
  if (incident === undefined) return undefined;
  const current = executionNameFor(incident);
  return current === state.executionName ? undefined : current;
}

/**
 * Why a failover of `state.nodeId` has nothing to fail over: another node is the recorded primary (a
 * failover or switchover moved the role since this incident was opened). Undefined while it is the primary
 * or none is recorded.
 */
export function notThePrimary(state: RunbookState, cluster: ClusterRecoveryState): string | undefined {
  if (cluster.primaryNodeId === undefined || cluster.primaryNodeId === state.nodeId) return undefined;
  return `${state.nodeId} is no longer the recorded primary (${cluster.primaryNodeId} is, epoch ${cluster.epoch})`;
}

/**
 * The primary a rejoin moves the node under: the recorded one; for an operator's request before any is
 * recorded, the only other HEALTHY node reporting primary (functions/core/rejoin.ts).
 */
export function targetPrimary(
  state: RunbookState,
  cluster: ClusterRecoveryState,
  nodes: ReadonlyMap<string, NodeState>,
): string | undefined {
  if (!nodeRequested(state)) return cluster.primaryNodeId;
  return rejoinPrimary(nodeRequestContextOf(state.clusterId, cluster, nodes, state.incidentId), state.nodeId);
}

/** How long a run waits for a primary that may be alive to settle (its status clears or it goes silent again). */
export function aliveRetrySeconds(policy: Policy): number {
  return Math.max(2, Math.ceil(policy.heartbeatTimeoutSeconds));
}

export const switchover = (state: RunbookState) => state.runbook === 'primary-switchover';

/** A manual failover's request (an operator asked: it is the decision), undefined for an automatic run. */
export const failoverRequest = (state: RunbookState) =>
  state.runbook === 'primary-failover' ? state.requested : undefined;

/**
 * Whether this failover's incident already moved the epoch and still holds the lock: a run started again
 * (`recover`) on a half-done failover, which goes on from where it stopped instead of starting anew.
 */
export const resuming = (state: RunbookState, cluster: ClusterRecoveryState) =>
  state.runbook === 'primary-failover' && halfDoneBy(cluster) === state.incidentId;
