import type { NodeState, NodeStatus } from './node-state';
import type { Policy } from './policy';
import { comparePositions, type Position, parsePosition, positionDistance } from './position';

/** Per-node failover settings from the cluster configuration. */
export interface NodeFailoverConfig {
  /** Higher is preferred between equally advanced replicas. @default 0 */
  readonly priority?: number;
  /** Never promote this node. @default false */
  readonly noPromote?: boolean;
}

export interface CandidateChoice {
  /** The replica to promote, or undefined when none is eligible (the runbook pages, it never promotes a bad one). */
  readonly candidate?: string;
  /** Eligible replicas, best first. */
  readonly ranking: readonly string[];
  /** Why each other node was not chosen, one sentence each (goes into the notification). */
  readonly rejected: readonly { readonly nodeId: string; readonly reason: string }[];
  readonly reason: string;
}

/** Statuses a candidate may have: a replica of a dead primary is typically STALLED (its link is down). */
const ELIGIBLE: ReadonlySet<NodeStatus> = new Set(['HEALTHY', 'LAGGING', 'STALLED']);

function applied(node: NodeState): Position | undefined {
  const raw = node.appliedPosition ?? node.position;
  if (raw === undefined) return undefined;
  try {
    return parsePosition(node.engine, raw);
  } catch {
    return undefined;
  }
}

/**
 * Chooses the replica to promote when `failedPrimaryId` is dead (pure). Eligible: a replica that is
 * alive (reported within `heartbeatTimeoutSeconds`, not SILENT, DEAD, FENCED, MAINTENANCE or RECOVERING),
 * not marked noPromote, whose applied position is known and at most `maxLagOnFailover` position units
 * behind the failed primary's last known position (when that distance can be measured). Among those: the
 * most advanced applied position, then the highest priority, then the node id (so the choice is stable).
 */
export function chooseCandidate(
  nodes: readonly NodeState[],
  failedPrimaryId: string,
  config: ReadonlyMap<string, NodeFailoverConfig>,
  policy: Policy,
  now: number,
): CandidateChoice {
  const failed = nodes.find((n) => n.nodeId === failedPrimaryId);
  const lastPrimary = failed ? applied(failed) : undefined;
  const rejected: { nodeId: string; reason: string }[] = [];
  const eligible: { node: NodeState; position: Position; priority: number }[] = [];

  for (const node of nodes) {
    if (node.nodeId === failedPrimaryId) continue;
    const settings = config.get(node.nodeId) ?? {};
    const position = applied(node);
    const silentFor = now - node.lastHeartbeatAt;
    if (node.role === 'primary')
      rejected.push({ nodeId: node.nodeId, reason: 'reports as a primary itself' });
    else if (settings.noPromote) rejected.push({ nodeId: node.nodeId, reason: 'marked noPromote' });
    else if (!ELIGIBLE.has(node.status)) rejected.push({ nodeId: node.nodeId, reason: `is ${node.status}` });
    else if (silentFor > policy.heartbeatTimeoutSeconds * 1000) {
      rejected.push({ nodeId: node.nodeId, reason: `last reported ${Math.round(silentFor / 1000)}s ago` });
    } else if (!position) rejected.push({ nodeId: node.nodeId, reason: 'reports no applied position' });
    else {
      const behind = lastPrimary ? positionDistance(lastPrimary, position) : undefined;
      if (behind !== undefined && behind > policy.maxLagOnFailover) {
        rejected.push({
          nodeId: node.nodeId,
          reason: `${behind} position units behind the failed primary's last position (max ${policy.maxLagOnFailover})`,
        });
      } else eligible.push({ node, position, priority: settings.priority ?? 0 });
    }
  }

  eligible.sort((a, b) => {
    const order = comparePositions(b.position, a.position);
    if (order !== undefined && order !== 0) return order;
    return b.priority - a.priority || a.node.nodeId.localeCompare(b.node.nodeId);
  });
  const [best, ...others] = eligible;
  for (const other of others) {
    const order = best ? comparePositions(best.position, other.position) : undefined;
    rejected.push({
      nodeId: other.node.nodeId,
      reason:
        order === undefined
          ? `applied position ${other.position.raw} cannot be compared with ${best?.node.nodeId}'s`
          : order > 0
            ? `applied position ${other.position.raw} is behind ${best?.node.nodeId}'s ${best?.position.raw}`
            : `as advanced as ${best?.node.nodeId} but priority ${other.priority} is not higher than ${best?.priority}${other.priority === best?.priority ? ' (tie broken by node id)' : ''}`,
    });
  }
  rejected.sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  return {
    ...(best ? { candidate: best.node.nodeId } : {}),
    ranking: eligible.map((e) => e.node.nodeId),
    rejected,
    reason: best
      ? `promote ${best.node.nodeId}: the most advanced eligible replica at ${best.position.raw}${best.priority ? ` (priority ${best.priority})` : ''}`
      : `no eligible replica: ${rejected.map((r) => `${r.nodeId} ${r.reason}`).join('; ') || 'the cluster has no replica'}`,
  };
}
