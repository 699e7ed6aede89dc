import { chooseCandidate } from './candidate';
import type { DataAtRisk } from './data-at-risk';
import type { NodeState, NodeStatus } from './node-state';
import type { Policy } from './policy';
import { type DistanceUnit, distanceUnit } from './position-comparison';
import { parsePosition } from './position-parsing';
import { failoverInProgress } from './topology';

/**
 * The replication tree `status` shows (issue 12 item 6): the primary at the root and each node under the
 * node it actually follows (its reported `sourceNodeId`), with what does not fit marked. Pure: built from
 * the stored node states and the recorded topology (the cluster item's `primaryNodeId`, epoch and lock).
 */

/**
 * Why a node is not where it should be, loudly (`loud`) or as a note:
 * - `split-brain`: a second writable primary (reports primary, alive, not the primary at the root);
 * - `orphan`: a replica following a node that is not the primary nor a replica under it (another primary,
 *   a node whose role is unknown, a node the cluster does not know, or a replication cycle);
 * - `detached`: a node following nothing (a replica that names no source, a node whose role is unknown,
 *   an old primary left DEAD or FENCED);
 * - `demoted`: the recorded primary reports itself a replica (a switchover made by hand): it stays at the
 *   root, the writable node is then a second root;
 * - `promoting`: the live primary a failover in progress promoted, before its id is recorded (a note).
 */
export type TopologyMarkKind = 'split-brain' | 'orphan' | 'detached' | 'demoted' | 'promoting';

export interface TopologyMark {
  readonly kind: TopologyMarkKind;
  readonly loud: boolean;
  /** One sentence an operator reads. */
  readonly reason: string;
}

export interface TopologyTreeNode {
  readonly nodeId: string;
  /** Absent for a recorded primary that has never reported (it is still the root others follow). */
  readonly node?: NodeState;
  /** The node this one replicates from, as it reported it (replicas only). */
  readonly follows?: string;
  readonly mark?: TopologyMark;
  /** What promoting this node now would lose (every node but the primary at the root; candidate.ts). */
  readonly dataAtRisk?: DataAtRisk;
  /** The unit of the node's `lagUnits`, from its applied position's kind; absent when it cannot be told. */
  readonly lagUnit?: DistanceUnit;
  readonly children: readonly TopologyTreeNode[];
}

export interface TopologyViewInput {
  readonly nodes: readonly NodeState[];
  /** The recorded primary (cluster item `primaryNodeId`); absent before the first failover. */
  readonly primaryNodeId?: string;
  readonly epoch: number;
  /** The incident holding the cluster lock, if any (a failover may be in progress). */
  readonly lockIncidentId?: string;
  readonly policy: Policy;
  readonly now: number;
}

export interface TopologyView {
  /**
   * The primary at the root: the recorded one, or before any failover the one node reporting primary that
   * no rule disputes. Absent when there is none (no primary at all, or two undisputed ones).
   */
  readonly primaryNodeId?: string;
  /** Whether that primary is the recorded one (false: inferred from the reports). */
  readonly recorded: boolean;
  /** The primary's tree first, then every other root (split brain, orphans, detached nodes) by node id. */
  readonly roots: readonly TopologyTreeNode[];
  readonly splitBrain: readonly string[];
  readonly orphans: readonly string[];
  readonly detached: readonly string[];
}

/** Statuses of a primary that is out of service: it is not a writable root. */
const OUT: ReadonlySet<NodeStatus> = new Set(['DEAD', 'FENCED']);

const only = (ids: readonly string[]): string | undefined => (ids.length === 1 ? ids[0] : undefined);

/** The primary at the root: the recorded one; else the one undisputed live primary; else the one DEAD primary. */
function rootPrimary(nodes: readonly NodeState[], recorded: string | undefined): string | undefined {
  if (recorded !== undefined) return recorded;
  const primaries = nodes.filter((n) => n.role === 'primary' && n.status !== 'SPLIT_BRAIN');
  const live = primaries.filter((n) => !OUT.has(n.status)).map((n) => n.nodeId);
  if (live.length > 0) return only(live);
  return only(primaries.filter((n) => n.status === 'DEAD').map((n) => n.nodeId));
}

function lagUnitOf(node: NodeState): DistanceUnit | undefined {
  const raw = node.appliedPosition ?? node.position;
  if (raw === undefined) return undefined;
  try {
    return distanceUnit(parsePosition(node.engine, raw).kind);
  } catch {
    return undefined;
  }
}

/** Where a node hangs: under `parent`, or a root with its mark. */
type Placement = { parent?: string; mark?: TopologyMark };

const loud = (kind: TopologyMarkKind, reason: string): TopologyMark => ({ kind, loud: true, reason });

/**
 * Builds the replication tree of one cluster.
 *
 * @example
 * const view = buildTopologyView({ nodes, primaryNodeId: 'r1', epoch: 2, policy, now: Date.now() });
 * view.roots[0]?.children.map((c) => c.nodeId); // the replicas following r1
 */
export function buildTopologyView(input: TopologyViewInput): TopologyView {
  const byId = new Map(input.nodes.map((n) => [n.nodeId, n]));
  const root = rootPrimary(input.nodes, input.primaryNodeId);
  const recordedNote =
    input.primaryNodeId !== undefined
      ? `the recorded primary is ${input.primaryNodeId} (epoch ${input.epoch})`
      : root !== undefined
        ? `${root} is the primary (none recorded yet)`
        : 'no primary is recorded and none is undisputed';
  const promoting =
    input.primaryNodeId !== undefined &&
    failoverInProgress({
      primaryNodeId: input.primaryNodeId,
      epoch: input.epoch,
      ...(input.lockIncidentId !== undefined ? { lockIncidentId: input.lockIncidentId } : {}),
      nodes: byId,
    });

  const placements = new Map<string, Placement>();
  for (const node of input.nodes) {
    if (node.nodeId === root) placements.set(node.nodeId, placeRoot(node));
    else if (node.role === 'primary') placements.set(node.nodeId, placePrimary(node));
    else if (node.role === 'replica') placements.set(node.nodeId, placeReplica(node));
    else
      placements.set(node.nodeId, {
        mark: loud('detached', `follows nothing known: its role is unknown (${node.statusReason})`),
      });
  }
  if (root !== undefined && !byId.has(root)) placements.set(root, {});

  function placeRoot(node: NodeState): Placement {
    if (node.role !== 'replica') return {};
    const source = node.sourceNodeId === undefined ? 'no source' : node.sourceNodeId;
    return {
      mark: loud(
        'demoted',
        `the recorded primary reports itself a replica (of ${source}): the record is stale`,
      ),
    };
  }

  function placePrimary(node: NodeState): Placement {
    if (OUT.has(node.status))
      return {
        mark: loud('detached', `follows nothing: reports primary but is ${node.status}; ${recordedNote}`),
      };
    if (promoting)
      return {
        mark: {
          kind: 'promoting',
          loud: false,
          reason: `promoted by the failover in progress (${input.lockIncidentId}), not yet recorded`,
        },
      };
    return { mark: loud('split-brain', `a second writable primary: ${recordedNote}`) };
  }

  function placeReplica(node: NodeState): Placement {
    const source = node.sourceNodeId;
    if (source === undefined || source === node.nodeId)
      return { mark: loud('detached', 'follows nothing: it reports no replication source') };
    if (!byId.has(source) && source !== root)
      return { mark: loud('orphan', `follows ${source}, a node this cluster does not know`) };
    const parent = byId.get(source);
    if (parent === undefined || source === root || parent.role === 'replica') return { parent: source };
    if (parent.role === 'primary') {
      // The candidate a failover in progress promoted: following it is rightful (topology.ts judgeSource).
      if (promoting && !OUT.has(parent.status)) return { parent: source };
      return {
        parent: source,
        mark: loud('orphan', `follows ${source} (${parent.status}), not the primary: ${recordedNote}`),
      };
    }
    return { parent: source, mark: loud('orphan', `follows ${source}, whose role is unknown`) };
  }

  breakCycles(placements);

  const atRisk = new Map(
    chooseCandidate(input.nodes, root ?? '', new Map(), input.policy, input.now).atRisk.map((r) => [
      r.nodeId,
      r,
    ]),
  );
  const childrenOf = new Map<string, string[]>();
  const rootIds: string[] = [];
  for (const [nodeId, placement] of [...placements].sort(([a], [b]) => a.localeCompare(b))) {
    if (placement.parent === undefined) rootIds.push(nodeId);
    else childrenOf.set(placement.parent, [...(childrenOf.get(placement.parent) ?? []), nodeId]);
  }
  const build = (nodeId: string): TopologyTreeNode => {
    const node = byId.get(nodeId);
    const placement = placements.get(nodeId) ?? {};
    const risk = nodeId === root ? undefined : atRisk.get(nodeId);
    const unit = node ? lagUnitOf(node) : undefined;
    return {
      nodeId,
      ...(node ? { node } : {}),
      ...(node?.role === 'replica' && node.sourceNodeId !== undefined ? { follows: node.sourceNodeId } : {}),
      ...(placement.mark ? { mark: placement.mark } : {}),
      ...(risk ? { dataAtRisk: risk } : {}),
      ...(unit ? { lagUnit: unit } : {}),
      children: (childrenOf.get(nodeId) ?? []).map(build),
    };
  };
  const ordered = [...rootIds.filter((id) => id === root), ...rootIds.filter((id) => id !== root)];
  const marked = (kind: TopologyMarkKind) =>
    [...placements]
      .filter(([, p]) => p.mark?.kind === kind)
      .map(([id]) => id)
      .sort();
  return {
    ...(root !== undefined ? { primaryNodeId: root } : {}),
    recorded: root !== undefined && root === input.primaryNodeId,
    roots: ordered.map(build),
    splitBrain: marked('split-brain'),
    orphans: marked('orphan'),
    detached: marked('detached'),
  };
}

/**
 * Replicas following each other in a ring reach no root: the smallest id of each ring becomes a root,
 * marked as an orphan, and the others hang under it.
 */
function breakCycles(placements: Map<string, Placement>): void {
  const reachesRoot = new Map<string, boolean>();
  for (const start of [...placements.keys()].sort()) {
    const path: string[] = [];
    let at: string | undefined = start;
    while (at !== undefined && !reachesRoot.has(at) && !path.includes(at)) {
      path.push(at);
      at = placements.get(at)?.parent;
    }
    if (at !== undefined && path.includes(at)) {
      const ring = path.slice(path.indexOf(at));
      const head = [...ring].sort()[0] as string;
      const order = [...ring.slice(ring.indexOf(head)), ...ring.slice(0, ring.indexOf(head)), head];
      placements.set(head, {
        mark: loud('orphan', `in a replication cycle (${order.join(' → ')}): none follows the primary`),
      });
    }
    for (const id of path) reachesRoot.set(id, true);
  }
}
