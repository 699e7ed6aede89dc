import type { NodeState, NodeStatus } from './node-state';
import type { Policy } from './policy';

/**
 * The recorded topology (the cluster META item, written by the failover runbook) and the cluster's nodes
 * as the batch sees them. The recorded primary and epoch are the truth the split-brain and wrong-source
 * rules judge reports against (issue 11 item 1).
 */
export interface Topology {
  /** The node the last failover promoted; absent before the cluster's first failover. */
  readonly primaryNodeId?: string;
  readonly epoch: number;
  /** The incident whose runbook holds the cluster lock: a failover may be in progress. */
  readonly lockIncidentId?: string;
  /** The runbook holding the lock (a planned switchover moves a healthy primary: see {@link switchoverInProgress}). */
  readonly lockRunbook?: string;
  readonly nodes: ReadonlyMap<string, NodeState>;
}

/** Statuses of a primary that a failover is replacing (or has given up on). */
const REPLACED: ReadonlySet<NodeStatus> = new Set(['DEAD', 'FENCED']);

/**
 * A failover is in progress: the cluster lock is held and the primary it replaces is DEAD or FENCED
 * (the recorded one; before the first failover, any node that was primary). Between Promote and the
 * write of `primaryNodeId`, the promoted candidate reports primary while the recorded one is the old.
 */
export function failoverInProgress(topology: Topology): boolean {
  if (topology.lockIncidentId === undefined) return false;
  if (topology.primaryNodeId !== undefined) {
    const recorded = topology.nodes.get(topology.primaryNodeId);
    return recorded !== undefined && REPLACED.has(recorded.status);
  }
  for (const node of topology.nodes.values())
    if (node.role === 'primary' && REPLACED.has(node.status)) return true;
  return false;
}

/**
 * A planned switchover holds the lock: for its few seconds the old primary (writes stopped) and the promoted
 * candidate both report primary, and replicas follow the old one until they are repointed. Neither is a
 * split brain nor a wrong source; if the run fails, the lock is released or the run's own failure pages, and
 * the rules apply again at the next report.
 */
export function switchoverInProgress(topology: Topology): boolean {
  return topology.lockIncidentId !== undefined && topology.lockRunbook === 'primary-switchover';
}

/** A node reporting primary that no rule disputes: alive (reported within the timeout), not replaced, not SPLIT_BRAIN. */
function livePrimary(node: NodeState, at: number, policy: Policy): boolean {
  return (
    node.role === 'primary' &&
    !REPLACED.has(node.status) &&
    node.status !== 'SPLIT_BRAIN' &&
    at - node.lastHeartbeatAt <= policy.heartbeatTimeoutSeconds * 1000
  );
}

/**
 * The split-brain rule, for a node that reports itself a writable primary (role primary, reachable).
 * Returns the SPLIT_BRAIN reason, or undefined when the claim is not disputed:
 * - the recorded primary is never SPLIT_BRAIN;
 * - a node already SPLIT_BRAIN stays so while it reports primary and is not the recorded primary;
 * - with a recorded primary: any other node, unless a failover is in progress (it is the candidate);
 * - with no recorded primary (before any failover): the node that became primary last (its previous role
 *   was not primary, or it was FENCED) while another live primary exists. Two nodes that were both primary
 *   before either was seen otherwise are not told apart (documented gap).
 */
export function splitBrainReason(
  nodeId: string,
  prev: NodeState | undefined,
  topology: Topology,
  at: number,
  policy: Policy,
): string | undefined {
  const recorded = topology.primaryNodeId;
  if (recorded === nodeId || switchoverInProgress(topology)) return undefined;
  const recordedNote =
    recorded === undefined ? 'no primary recorded yet' : `the recorded primary is ${recorded}`;
  const claim = `reports itself a writable primary, but ${recordedNote} (epoch ${topology.epoch})`;
  if (prev?.status === 'SPLIT_BRAIN') return prev.statusReason.startsWith(claim) ? prev.statusReason : claim;
  if (recorded !== undefined) {
    if (failoverInProgress(topology)) return undefined;
    return claim;
  }
  const newcomer = prev === undefined || prev.role !== 'primary' || prev.status === 'FENCED';
  if (!newcomer) return undefined;
  const rivals = [...topology.nodes.values()]
    .filter((n) => n.nodeId !== nodeId && livePrimary(n, at, policy))
    .map((n) => n.nodeId)
    .sort();
  if (rivals.length === 0) return undefined;
  return `${claim}; ${rivals.join(', ')} was primary before it`;
}

export type SourceVerdict =
  /** The source is the recorded primary, a replica (cascading), or (no recorded primary) an undisputed primary. */
  | { readonly kind: 'rightful' }
  /** No named source, or one the cluster does not know: nothing can be said. */
  | { readonly kind: 'unknown' }
  /** Following a wrong source, within the grace a failover in progress has to repoint it. */
  | { readonly kind: 'awaiting-repoint'; readonly reason: string }
  | { readonly kind: 'wrong'; readonly reason: string };

/**
 * The wrong-source rule, for a replica that names its source. A rightful source is the recorded primary
 * or a node whose role is replica (cascading replication); with no recorded primary, a primary that is not
 * SPLIT_BRAIN or FENCED. Any other source is wrong (e.g. the old primary after a failover whose repoint
 * failed). While a failover is in progress (lock held, the recorded primary DEAD or FENCED), the
 * primary it promoted (a live primary) is rightful too. While the cluster lock is held, a replica still
 * following a DEAD or FENCED primary gets `stallAfterSeconds` from `wrongSince` before it is wrong: the
 * failover's Repoint step is about to move it. Past that, a held lock no longer hides it (a failed run).
 */
export function judgeSource(
  nodeId: string,
  sourceNodeId: string | undefined,
  topology: Topology,
  wrongSince: number,
  at: number,
  policy: Policy,
): SourceVerdict {
  if (sourceNodeId === undefined || sourceNodeId === nodeId) return { kind: 'unknown' };
  const source = topology.nodes.get(sourceNodeId);
  if (!source) return { kind: 'unknown' };
  if (source.role === 'replica') return { kind: 'rightful' };
  const recorded = topology.primaryNodeId;
  if (
    recorded !== undefined ? sourceNodeId === recorded : !['SPLIT_BRAIN', 'FENCED'].includes(source.status)
  ) {
    return { kind: 'rightful' };
  }
  // The candidate a failover in progress promoted, before its id is recorded.
  if (failoverInProgress(topology) && livePrimary(source, at, policy)) return { kind: 'rightful' };
  const what =
    recorded !== undefined
      ? `replicates from ${sourceNodeId} (${source.role}, ${source.status}), not from the recorded primary ${recorded} (epoch ${topology.epoch})`
      : `replicates from ${sourceNodeId}, which is ${source.status}`;
  const graceMs = policy.stallAfterSeconds * 1000;
  // After the new primary is recorded and before Repoint moved this replica: the lock is still held.
  if (
    topology.lockIncidentId !== undefined &&
    (REPLACED.has(source.status) || switchoverInProgress(topology)) &&
    at - wrongSince < graceMs
  ) {
    return { kind: 'awaiting-repoint', reason: `${what}; the failover in progress repoints it` };
  }
  return { kind: 'wrong', reason: what };
}
