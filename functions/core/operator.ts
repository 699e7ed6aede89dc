import type { Incident, RunbookName, TimelineEntry } from './incidents';
import type { ClusterRecoveryState } from './recovery';
import type { RunbookState } from './runbook';

/**
 * The rules of the operator's actions on a cluster (pure, time passed in): what each may do, what it
 * refuses and why, and the records it leaves (the cluster item's `operatorLog`, the incident timeline, the
 * epoch log that `history` prints).
 */

/** One operator action as recorded on the cluster item (`operatorLog`) and announced on the alerts topic. */
export interface OperatorActionRecord {
  readonly action: string;
  readonly clusterId: string;
  /** The incident acted on or involved, if any. */
  readonly incidentId?: string;
  readonly nodeId?: string;
  /** Who: an IAM ARN, `local:<user>`, or `slack:<user id>`. */
  readonly by: string;
  readonly reason: string;
  readonly at: number;
  /** What was done, in a sentence. */
  readonly detail: string;
}

/** Who acted, as recorded: the caller id. */
export const recordedBy = (caller: { readonly id: string }): string => caller.id;

/** A refusal: the one-line reason and the HTTP status the API answers with. */
export interface Refusal {
  readonly refused: string;
  readonly status: 404 | 409;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Whether the cluster's automation is paused, and the sentence that says by whom and why. */
export function pausedBecause(
  cluster: Pick<ClusterRecoveryState, 'pausedBy' | 'pausedReason'>,
): string | undefined {
  if (cluster.pausedBy === undefined) return undefined;
  return `paused by ${cluster.pausedBy}: ${cluster.pausedReason ?? 'no reason'}`;
}

/** `pause`: refused when already paused (a second pause changes nothing, not even who paused). */
export function pauseRefusal(clusterId: string, cluster: ClusterRecoveryState): Refusal | undefined {
  if (cluster.pausedBy === undefined) return undefined;
  return {
    refused: `cluster ${clusterId} is already ${pausedBecause(cluster)} (since ${iso(cluster.pausedAt ?? 0)})`,
    status: 409,
  };
}

/** `resume`: refused when not paused. */
export function resumeRefusal(clusterId: string, cluster: ClusterRecoveryState): Refusal | undefined {
  return cluster.pausedBy === undefined
    ? { refused: `cluster ${clusterId} is not paused`, status: 409 }
    : undefined;
}

/** What `unlock` does: refuse, release, or stop the holder's run first and release. */
export type UnlockPlan =
  | Refusal
  | { readonly release: string; readonly runbook?: RunbookName; readonly stop: boolean };

/**
 * `unlock`: releases the cluster lock. Refused when no lock is held, and when the holder's runbook
 * execution is still running unless `force` (then the execution is stopped first: a running run would
 * otherwise act without the lock it believes it holds).
 */
export function unlockPlan(
  clusterId: string,
  cluster: ClusterRecoveryState,
  holderRunning: boolean,
  force: boolean,
): UnlockPlan {
  const holder = cluster.lockIncidentId;
  if (holder === undefined)
    return { refused: `cluster ${clusterId} holds no recovery lock: nothing to release`, status: 409 };
  if (holderRunning && !force)
    return {
      refused: `the lock holder's runbook (incident ${holder}, ${cluster.lockRunbook ?? 'runbook'}) is still running: pass --force to stop it and release the lock`,
      status: 409,
    };
  return {
    release: holder,
    runbook: cluster.lockRunbook,
    stop: holderRunning,
  };
}

/** `ack`: refused for an incident that is already closed. */
export function ackRefusal(incident: Incident): Refusal | undefined {
  if (incident.state === 'RESOLVED')
    return {
      refused: `incident ${incident.incidentId} is already closed (RESOLVED at ${iso(incident.resolvedAt ?? incident.updatedAt)})`,
      status: 409,
    };
  return undefined;
}

/** The timeline entry an operator action leaves on an incident. */
export function operatorTimelineEntry(
  incident: Incident,
  record: OperatorActionRecord,
  event: 'acknowledged' | 'operator' = 'operator',
): TimelineEntry {
  return {
    at: record.at,
    event,
    // A SWITCHOVER or REBUILD incident is no node status: its last entry says where the node was.
    to:
      incident.kind === 'SWITCHOVER' || incident.kind === 'REBUILD'
        ? (incident.timeline.at(-1)?.to ?? 'HEALTHY')
        : incident.kind,
    reason: `${record.action} by ${record.by}: ${record.reason} (${record.detail})`,
    by: record.by,
  };
}

/** The incident as an acknowledgement closes it: RESOLVED, who and why, one more revision. */
export function acknowledged(incident: Incident, record: OperatorActionRecord): Incident {
  return {
    ...incident,
    state: 'RESOLVED',
    resolvedAt: record.at,
    updatedAt: record.at,
    revision: incident.revision + 1,
    acknowledged: { by: record.by, reason: record.reason, at: record.at },
    timeline: [...incident.timeline, operatorTimelineEntry(incident, record, 'acknowledged')],
  };
}

/** One epoch of a cluster as `history` prints it (item `EPOCH#<epoch>` of the cluster). */
export interface EpochRecord {
  readonly clusterId: string;
  readonly epoch: number;
  readonly primaryNodeId: string;
  readonly previousPrimaryNodeId?: string;
  readonly at: number;
  /** Who or what promoted: `runbook primary-failover (execution …)` or the operator's id. */
  readonly by: string;
  readonly incidentId?: string;
  readonly why: string;
  readonly dataAtRisk?: string;
}

/**
 * The incident's plan if it is the plan for `candidate`, else undefined: a plan written for another choice
 * (an earlier look, a stopped run's late step) says nothing true about the candidate promoted.
 */
export function planFor(
  incident: Pick<Incident, 'plan'> | undefined,
  candidate: string | undefined,
): Incident['plan'] {
  const plan = incident?.plan;
  return candidate !== undefined && plan?.candidate === candidate ? plan : undefined;
}

/** The epoch a failover's UpdateCluster records: the dead primary, the plan, its data at risk. */
export function failoverEpoch(state: RunbookState, incident: Incident | undefined, at: number): EpochRecord {
  if (!state.candidate || state.epoch === undefined)
    throw new Error('failoverEpoch: no candidate or epoch in the state');
  const plan = planFor(incident, state.candidate);
  const asked = state.runbook === 'primary-failover' ? state.requested : undefined;
  const cause = `${asked ? `manual failover: ${asked.reason ?? 'no reason'}; ` : ''}${state.nodeId} was ${state.kind ?? 'DEAD'}`;
  return {
    clusterId: state.clusterId,
    epoch: state.epoch,
    primaryNodeId: state.candidate,
    previousPrimaryNodeId: state.nodeId,
    at,
    by: `${asked ? `${asked.by} through ` : ''}runbook ${state.runbook} (execution ${state.executionName})`,
    incidentId: state.incidentId,
    why: plan?.reason ? `${cause}; ${plan.reason}` : cause,
    ...(plan?.dataAtRisk ? { dataAtRisk: plan.dataAtRisk } : {}),
  };
}

/**
 * Whether a Slack user may press Approve/Reject on the cluster's runbooks: the cluster's own list when it
 * has one, else the stack-wide list; nobody when neither names anyone.
 */
export function slackAllowed(
  userId: string,
  clusterList: readonly string[] | undefined,
  stackList: readonly string[],
): boolean {
  return (clusterList ?? stackList).includes(userId);
}
