/**
 * The rules of an operator's `rejoin` and `rebuild` of one node (pure): whether the request may go ahead on
 * the state the monitor has now, under which primary the node goes, and what the replica-recovery runbook
 * does with it (the incident kind). The operator API asks them before it writes anything (a refusal is a
 * 404/409 and exit 2); the runbook asks them again on fresh state just before it acts (ReVerify).
 */
import type { HookSpec } from './hooks';
import type { Incident, OperatorRequest } from './incidents';
import type { NodeState } from './node-state';
import type { Refusal } from './operator';
import type { ClusterRecoveryState } from './recovery';

/** What the rules need to know of the cluster (the lock of `ownIncidentId` left out: a run asking again). */
export interface NodeRequestContext {
  readonly clusterId: string;
  readonly primaryNodeId?: string;
  readonly lockIncidentId?: string;
  readonly lockRunbook?: string;
  readonly nodes: ReadonlyMap<string, NodeState>;
  /** Node ids the cluster configuration has an endpoint for (the hooks act through it). */
  readonly configured: ReadonlySet<string>;
  /** The cluster's `rebuild` hook, if any. */
  readonly rebuildHook?: HookSpec;
}

/** The rules' view of a cluster item and its nodes; the lock `ownIncidentId` holds (its own run) is left out. */
export function nodeRequestContextOf(
  clusterId: string,
  cluster: Pick<ClusterRecoveryState, 'primaryNodeId' | 'lockIncidentId' | 'lockRunbook' | 'nodes' | 'hooks'>,
  nodes: ReadonlyMap<string, NodeState>,
  ownIncidentId?: string,
): NodeRequestContext {
  const others = cluster.lockIncidentId !== undefined && cluster.lockIncidentId !== ownIncidentId;
  return {
    clusterId,
    primaryNodeId: cluster.primaryNodeId,
    ...(others ? { lockIncidentId: cluster.lockIncidentId } : {}),
    ...(others && cluster.lockRunbook !== undefined ? { lockRunbook: cluster.lockRunbook } : {}),
    nodes,
    configured: new Set(cluster.nodes.map((n) => n.nodeId)),
    rebuildHook: cluster.hooks.rebuild,
  };
}

/** What a rejoin does: demote a node that reports itself primary, or repoint a replica. */
export type RejoinKind = 'SPLIT_BRAIN' | 'WRONG_SOURCE';

export type NodeRequestPlan =
  | Refusal
  | {
      /** SPLIT_BRAIN: demote; WRONG_SOURCE: repoint; REBUILD: the rebuild hook. */
      readonly kind: RejoinKind | 'REBUILD';
      /** The primary the node must end up replicating from. */
      readonly primary: string;
      /** One sentence: what will be done and why. */
      readonly what: string;
    };

/**
 * The primary a node is moved under: the recorded one (`primaryNodeId`, set by failovers and switchovers);
 * before any is recorded, the only other node that reports itself primary and is HEALTHY.
 */
export function rejoinPrimary(context: NodeRequestContext, nodeId: string): string | undefined {
  if (context.primaryNodeId !== undefined) return context.primaryNodeId;
  const primaries = [...context.nodes.values()].filter(
    (n) => n.nodeId !== nodeId && n.role === 'primary' && n.status === 'HEALTHY',
  );
  return primaries.length === 1 ? primaries[0]?.nodeId : undefined;
}

/** Statuses of a primary nothing may be moved under: it cannot be reached. */
const UNREACHABLE: ReadonlySet<string> = new Set(['DEAD', 'SILENT']);

/**
 * The refusals both requests share: unknown node, no primary to go under, the primary itself, a primary that
 * cannot be reached (DEAD or SILENT: demoting or repointing a node under it could leave no writable node),
 * the lock.
 */
function common(
  context: NodeRequestContext,
  nodeId: string,
  verb: string,
): Refusal | { readonly node: NodeState; readonly primary: string } {
  const node = context.nodes.get(nodeId);
  if (node === undefined && context.configured.has(nodeId))
    return { refused: `${nodeId} has never reported: there is nothing to judge it by yet`, status: 409 };
  if (node === undefined || !context.configured.has(nodeId)) {
    const known = [...new Set([...context.nodes.keys(), ...context.configured])].sort();
    return {
      refused: `unknown node ${nodeId} in cluster ${context.clusterId}${node === undefined ? '' : ' (no endpoint configured for it)'} (nodes: ${known.join(', ') || 'none'})`,
      status: 404,
    };
  }
  if (nodeId === context.primaryNodeId)
    return {
      refused: `${nodeId} is the recorded primary of ${context.clusterId}: nothing to ${verb} it under (to move the primary role, use switchover)`,
      status: 409,
    };
  const primary = rejoinPrimary(context, nodeId);
  if (primary === undefined)
    return {
      refused: `cluster ${context.clusterId} has no recorded primary and not exactly one other HEALTHY node reports primary: there is nothing to ${verb} ${nodeId} under`,
      status: 409,
    };
  const primaryState = context.nodes.get(primary);
  if (primaryState !== undefined && UNREACHABLE.has(primaryState.status))
    return {
      refused: `the primary ${primary} is ${primaryState.status}: moving ${nodeId} under it would leave no writable node; fail over first (replica-sentinel failover)`,
      status: 409,
    };
  if (context.lockIncidentId !== undefined)
    return {
      refused: `another run holds the cluster lock: incident ${context.lockIncidentId} (${context.lockRunbook ?? 'runbook'}); wait for it to end, or unlock`,
      status: 409,
    };
  return { node, primary };
}

/**
 * `rejoin`: puts a node back under the primary. A node that reports itself primary (a stale or returning old
 * primary, a second writable primary) is demoted, as a SPLIT_BRAIN; a replica that follows another node or
 * nothing is repointed, as a WRONG_SOURCE. Refused: an unknown node, the recorded primary ("use
 * switchover"), a HEALTHY replica already following the primary ("nothing to do"), a lock held by another
 * run (named).
 */
export function planRejoin(context: NodeRequestContext, nodeId: string): NodeRequestPlan {
  const checked = common(context, nodeId, 'rejoin');
  if ('refused' in checked) return checked;
  const { node, primary } = checked;
  if (node.role === 'unknown')
    return {
      refused: `${nodeId}'s role is unknown (${node.status}: ${node.statusReason}): it cannot be moved until it reports again`,
      status: 409,
    };
  if (node.role === 'primary')
    return {
      kind: 'SPLIT_BRAIN',
      primary,
      what: `${nodeId} reports itself primary (${node.status}): demote it under ${primary}`,
    };
  if (node.sourceNodeId === primary && node.status === 'HEALTHY')
    return {
      refused: `nothing to do: ${nodeId} already replicates from ${primary} and is HEALTHY`,
      status: 409,
    };
  const following =
    node.sourceNodeId === undefined
      ? 'follows no source'
      : node.sourceNodeId === primary
        ? `follows ${primary} but is ${node.status}`
        : `follows ${node.sourceNodeId}`;
  return { kind: 'WRONG_SOURCE', primary, what: `${nodeId} ${following}: repoint it to ${primary}` };
}

/**
 * `rebuild`: runs the cluster's `rebuild` hook on the node, then waits for its reports to show it
 * replicating from the primary. Refused: an unknown node, the recorded primary, no rebuild hook
 * configured (there is no built-in one), a lock held by another run.
 */
export function planRebuild(context: NodeRequestContext, nodeId: string): NodeRequestPlan {
  if (context.rebuildHook === undefined || context.rebuildHook.type === 'builtin')
    return {
      refused: `cluster ${context.clusterId} has no rebuild hook: configure hooks.rebuild (lambda, https or ssm; there is no built-in one)`,
      status: 409,
    };
  const checked = common(context, nodeId, 'rebuild');
  if ('refused' in checked) return checked;
  return {
    kind: 'REBUILD',
    primary: checked.primary,
    what: `rebuild ${nodeId} with the ${context.rebuildHook.type} rebuild hook, then it must replicate from ${checked.primary}`,
  };
}

/** The incident an operator's rejoin or rebuild opens: the record its replica-recovery run works on (pure). */
export function nodeRequestIncident(
  clusterId: string,
  node: NodeState,
  plan: Exclude<NodeRequestPlan, Refusal>,
  request: OperatorRequest,
  now: number,
): Incident {
  const verb = plan.kind === 'REBUILD' ? 'rebuild' : 'rejoin';
  const readable = `${verb}-${node.nodeId}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 60);
  return {
    clusterId,
    incidentId: `${readable}-${now.toString(36)}`,
    nodeId: node.nodeId,
    role: node.role,
    engine: node.engine,
    kind: plan.kind,
    severity: plan.kind === 'SPLIT_BRAIN' ? 'critical' : plan.kind === 'WRONG_SOURCE' ? 'major' : 'warning',
    state: 'OPEN',
    openedAt: now,
    updatedAt: now,
    lastNodeVersion: node.version,
    revision: 1,
    flaps: 0,
    timeline: [
      {
        at: now,
        event: 'opened',
        to: node.status,
        reason: `${verb} asked by ${request.by}${request.reason ? `: ${request.reason}` : ''} (${plan.what})`,
        by: request.by,
      },
    ],
    runbook: 'replica-recovery',
    request,
    outbox: {},
  };
}
