/**
 * The rules of an operator's manual failover and of `recover` (docs/FAILOVER.md, "Manual failover"), pure:
 * whether a request may go ahead on the state the monitor has now (the operator API refuses with 409/404
 * and writes nothing otherwise), which incident it works on, and the records it leaves. The runbook asks
 * the rules that can hurt data again on fresh state (ReVerify, ChooseCandidate, Fence).
 */
import { primaryEvidence } from './evidence';
import { executionNameFor, type Incident, type OperatorRequest } from './incidents';
import type { NodeState } from './node-state';
import { type OperatorActionRecord, operatorTimelineEntry, type Refusal } from './operator';
import type { ClusterRecoveryState, LockRequest } from './recovery';

const iso = (ms: number) => new Date(ms).toISOString();

/** Statuses of a node that cannot be reached now. */
const UNREACHABLE = new Set(['DEAD', 'SILENT']);

/** The incident a failover that moved the epoch and still holds the lock belongs to (a half-done failover). */
export function halfDoneBy(
  cluster: Pick<ClusterRecoveryState, 'lockIncidentId' | 'epochIncidentId' | 'lockRunbook'>,
): string | undefined {
  return cluster.lockIncidentId !== undefined &&
    cluster.lockRunbook !== 'replica-recovery' &&
    cluster.epochIncidentId === cluster.lockIncidentId
    ? cluster.lockIncidentId
    : undefined;
}

/** What the lock rules lift for a run that carries an operator's failover request. */
export function lockRequestOf(requested: OperatorRequest | undefined): LockRequest {
  if (requested === undefined) return {};
  return { ignorePause: true, ...(requested.force ? { ignoreCooldown: true } : {}) };
}

/** The primary a manual failover fails over: the recorded one, else the only node reporting primary. */
export function failedPrimaryOf(
  cluster: Pick<ClusterRecoveryState, 'primaryNodeId'>,
  nodes: ReadonlyMap<string, NodeState>,
): string | undefined {
  if (cluster.primaryNodeId !== undefined) return cluster.primaryNodeId;
  const reporting = [...nodes.values()].filter((n) => n.role === 'primary');
  return reporting.length === 1 ? reporting[0]?.nodeId : undefined;
}

export interface ManualFailoverContext {
  readonly clusterId: string;
  readonly cluster: ClusterRecoveryState;
  readonly nodes: ReadonlyMap<string, NodeState>;
  /** The latest incident of the recorded primary (open or not), if it has one. */
  readonly latest?: Incident;
  readonly now: number;
}

export type ManualFailoverPlan =
  | Refusal
  | {
      /** The dead primary failed over. */
      readonly primary: string;
      /** The open PRIMARY_DEAD incident the request takes over; absent: a new incident is opened. */
      readonly takeover?: Incident;
    };

/**
 * Whether an operator's failover of the cluster's primary may start (pure):
 * - the primary (the recorded one, else the only node reporting primary) is DEAD on fresh evidence, the same
 *   judgement as the runbook's ReVerify (a primary that is alive or healthy is moved with `switchover`);
 * - the cluster is not in a maintenance window (clear it first), and no failover is half done (one moved
 *   the epoch and still holds the lock: `recover` it; a half-done switchover: check the servers, `unlock`) nor held by another failover or switchover;
 * - `to`, when given, is a replica of the cluster with an endpoint, not noPromote, and reachable (neither
 *   DEAD nor SILENT). Whether its data at risk passes the gates is judged by the runbook on fresh state.
 * An open DEAD incident of that primary is taken over (its run stopped, a new one started on it with the
 * request); without one, a new incident is opened.
 */
export function planManualFailover(
  context: ManualFailoverContext,
  request: Pick<OperatorRequest, 'to'>,
): ManualFailoverPlan {
  const { cluster, nodes, clusterId, now } = context;
  if (nodes.size === 0) return { refused: `unknown cluster ${clusterId}: no node has reported`, status: 404 };
  if (cluster.nodes.length === 0)
    return {
      refused: `cluster ${clusterId} has no configuration (no node endpoints): apply its configuration first (replica-sentinel watch --config)`,
      status: 409,
    };
  const primary = failedPrimaryOf(cluster, nodes);
  if (primary === undefined)
    return { refused: 'no primary is recorded and not exactly one node reports primary', status: 409 };
  const old = nodes.get(primary);
  if (old === undefined) return { refused: `the primary ${primary} has never reported`, status: 409 };
  if (cluster.maintenanceUntil !== undefined && cluster.maintenanceUntil > now)
    return {
      refused: `cluster ${clusterId} is in maintenance until ${iso(cluster.maintenanceUntil)} (${cluster.maintenanceReason ?? 'no reason'}): clear the window first`,
      status: 409,
    };
  const halfDone = halfDoneBy(cluster);
  if (halfDone !== undefined)
    return {
      refused:
        cluster.lockRunbook === 'primary-switchover'
          ? `a switchover is half done: incident ${halfDone} moved the epoch to ${cluster.epoch} and holds the lock: check the servers, then unlock (replica-sentinel unlock --cluster ${clusterId}) and ack it`
          : `a failover is half done: incident ${halfDone} moved the epoch to ${cluster.epoch} and holds the lock: recover it (replica-sentinel recover ${halfDone})`,
      status: 409,
    };
  const evidence = primaryEvidence(old, [...nodes.values()], cluster.policy, now);
  if (evidence.kind === 'recovered')
    return {
      refused: `the primary ${primary} is not dead (${evidence.reason}): use switchover to move the primary role`,
      status: 409,
    };
  if (evidence.kind === 'alive')
    return {
      refused: `the primary ${primary} may be alive (${evidence.reason}): use switchover, or wait until it is judged DEAD`,
      status: 409,
    };
  const latest = context.latest;
  const takeover =
    latest !== undefined && latest.state === 'OPEN' && latest.kind === 'DEAD' && latest.nodeId === primary
      ? latest
      : undefined;
  if (
    cluster.lockIncidentId !== undefined &&
    cluster.lockIncidentId !== takeover?.incidentId &&
    cluster.lockRunbook !== 'replica-recovery'
  )
    return {
      refused: `another recovery holds the cluster lock (incident ${cluster.lockIncidentId}, ${cluster.lockRunbook ?? 'runbook'}): wait for it to end, or unlock`,
      status: 409,
    };
  if (request.to !== undefined) {
    const to = request.to;
    if (to === primary) return { refused: `${to} is the dead primary itself`, status: 409 };
    const node = nodes.get(to);
    if (node === undefined)
      return {
        refused: `unknown node ${to} (nodes: ${[...nodes.keys()].sort().join(', ')})`,
        status: 404,
      };
    const config = cluster.nodes.find((n) => n.nodeId === to);
    if (config === undefined)
      return { refused: `${to} has no endpoint in the cluster configuration`, status: 409 };
    if (config.noPromote) return { refused: `${to} is marked noPromote`, status: 409 };
    if (node.role !== 'replica')
      return { refused: `${to} is not a replica (role ${node.role})`, status: 409 };
    const silentMs = now - node.lastHeartbeatAt;
    if (UNREACHABLE.has(node.status) || silentMs > cluster.policy.heartbeatTimeoutSeconds * 1000)
      return {
        refused: `${to} is not reachable (${node.status}, last reported ${Math.round(silentMs / 1000)}s ago)`,
        status: 409,
      };
  }
  return { primary, ...(takeover ? { takeover } : {}) };
}

/** The incident a manual failover opens when the dead primary has no open one (pure). */
export function manualFailoverIncident(
  clusterId: string,
  primary: NodeState,
  request: OperatorRequest,
  now: number,
): Incident {
  const reason = `manual failover of ${primary.nodeId}${request.to ? ` to ${request.to}` : ''}${request.force ? ' (forced)' : ''} asked by ${request.by}${request.reason ? `: ${request.reason}` : ''}`;
  return {
    clusterId,
    incidentId: `failover-${now.toString(36)}`,
    nodeId: primary.nodeId,
    role: 'primary',
    engine: primary.engine,
    kind: 'DEAD',
    severity: 'critical',
    state: 'OPEN',
    openedAt: now,
    updatedAt: now,
    lastNodeVersion: primary.version,
    revision: 1,
    flaps: 0,
    timeline: [{ at: now, event: 'opened', to: primary.status, reason }],
    runbook: 'primary-failover',
    request,
    outbox: {},
  };
}

/**
 * The incident as an operator starts its runbook again (a manual failover taking it over, or `recover`):
 * open, the next attempt (a new execution name), the request when one is given, the operator's entry on
 * its timeline, and nothing left of the previous run's end (outcome, approval token, resolution).
 */
export function restartedIncident(
  incident: Incident,
  record: OperatorActionRecord,
  change: { readonly request?: OperatorRequest; readonly runbook?: Incident['runbook'] } = {},
): Incident {
  const {
    outcome: _outcome,
    approvalToken: _token,
    resolvedAt: _resolved,
    ...rest
  } = incident as Incident & { outcome?: string };
  return {
    ...rest,
    ...(change.request ? { request: change.request } : {}),
    ...(change.runbook ? { runbook: change.runbook } : {}),
    state: 'OPEN',
    attempt: (incident.attempt ?? 0) + 1,
    revision: incident.revision + 1,
    updatedAt: Math.max(incident.updatedAt, record.at),
    timeline: [...incident.timeline, operatorTimelineEntry(incident, record)],
  };
}

/**
 * `recover`: re-runs an incident's runbook from its start, with fresh evidence, on the same incident (a new
 * execution name). Refused for a closed incident (RESOLVED, which `ack` also leaves), one without a runbook,
 * one whose execution is still running, and a switchover that moved the epoch (it is not re-run: a human
 * checks the servers, then `unlock` and `ack`). A failover that failed after it moved the epoch is exactly
 * what it is for: the new run reclaims the lock its incident still holds and finishes.
 */
export function recoverRefusal(
  incident: Incident,
  cluster: Pick<ClusterRecoveryState, 'lockIncidentId' | 'epochIncidentId' | 'lockRunbook' | 'primaryNodeId'>,
  running: boolean,
): Refusal | undefined {
  if (incident.state === 'RESOLVED')
    return {
      refused: `incident ${incident.incidentId} is closed (RESOLVED${incident.acknowledged ? `, acknowledged by ${incident.acknowledged.by}` : ''}): nothing to recover`,
      status: 409,
    };
  if (incident.runbook === undefined)
    return {
      refused: `incident ${incident.incidentId} (${incident.kind}) has no runbook to re-run`,
      status: 409,
    };
  if (running)
    return {
      refused: `incident ${incident.incidentId}'s runbook is running (${executionNameFor(incident)}): use unlock --force or wait`,
      status: 409,
    };
  if (
    incident.runbook === 'primary-failover' &&
    halfDoneBy(cluster) !== incident.incidentId &&
    cluster.primaryNodeId !== undefined &&
    cluster.primaryNodeId !== incident.nodeId
  )
    return {
      refused: `${incident.nodeId} is no longer the recorded primary (${cluster.primaryNodeId} is): there is nothing to fail over; ack incident ${incident.incidentId} to close it`,
      status: 409,
    };
  if (incident.runbook === 'primary-switchover' && halfDoneBy(cluster) === incident.incidentId)
    return {
      refused: `switchover ${incident.incidentId} moved the epoch before it failed: it is not re-run; check the servers, then unlock and ack`,
      status: 409,
    };
  return undefined;
}
