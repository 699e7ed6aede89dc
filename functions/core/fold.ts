import { applyHeartbeat } from './detect';
import { type NodeState, withTransition } from './node-state';
import type { Policy } from './policy';
import type { Heartbeat } from './wire';

/** What the store knows about a cluster before a batch is applied. */
export interface ClusterSnapshot {
  readonly clusterId: string;
  readonly policy: Policy;
  readonly nodes: ReadonlyMap<string, NodeState>;
  /** Head positions recorded from the cluster's change streams (SOURCE# items). */
  readonly sourceHeads: readonly string[];
  /** The recorded primary (META `primaryNodeId`, written by the failover runbook); absent before the first failover. */
  readonly primaryNodeId?: string;
  /** The fencing epoch (META `epoch`; 0 before the first failover). */
  readonly epoch: number;
  /** The incident whose runbook holds the cluster lock (META `lockIncidentId`), if any. */
  readonly lockIncidentId?: string;
  /** The runbook holding the lock (META `lockRunbook`). */
  readonly lockRunbook?: string;
}

export interface IdentifiedHeartbeat {
  /** The caller's handle for the record this heartbeat came from (e.g. a Kinesis sequence number). */
  readonly id: string;
  readonly heartbeat: Heartbeat;
}

export type FoldOutcome =
  | { readonly kind: 'applied'; readonly nodeId: string }
  | { readonly kind: 'stale'; readonly nodeId: string; readonly reason: string }
  | { readonly kind: 'rejected'; readonly nodeId: string; readonly reason: string };

export interface FoldResult {
  /** The final state of every node the batch changed: one write per node, whatever the batch size. */
  readonly changed: Map<string, NodeState>;
  /** One outcome per input heartbeat, by id. */
  readonly outcomes: Map<string, FoldOutcome>;
}

const ROLE_ORDER = { primary: 0, unknown: 1, replica: 2 } as const;

/**
 * The source heads a replica is compared with: the write position of the node it replicates from
 * (or of the most recently reporting primary when it does not say), plus the change-stream heads.
 */
export function sourceHeadsFor(
  nodes: ReadonlyMap<string, NodeState>,
  streamHeads: readonly string[],
  sourceNodeId: string | undefined,
): string[] {
  let source = sourceNodeId ? nodes.get(sourceNodeId) : undefined;
  if (!source) {
    for (const node of nodes.values()) {
      if (node.role !== 'primary' || node.position === undefined) continue;
      if (!source || node.lastHeartbeatAt > source.lastHeartbeatAt) source = node;
    }
  }
  return source?.position !== undefined ? [source.position, ...streamHeads] : [...streamHeads];
}

/**
 * Folds a batch of heartbeats of one cluster through the detection rules. Primaries' reports go first so
 * that replicas in the same batch are compared with the newest source position; each node's reports are
 * applied in observation then sequence order. Pure: time comes in `now`.
 */
export function foldCluster(
  snapshot: ClusterSnapshot,
  heartbeats: readonly IdentifiedHeartbeat[],
  options: { readonly now: number; readonly sweepShards: number },
): FoldResult {
  const nodes = new Map(snapshot.nodes);
  const changed = new Map<string, NodeState>();
  const outcomes = new Map<string, FoldOutcome>();
  const ordered = [...heartbeats].sort(
    (a, b) =>
      ROLE_ORDER[a.heartbeat.role] - ROLE_ORDER[b.heartbeat.role] ||
      a.heartbeat.observedAtMs - b.heartbeat.observedAtMs ||
      a.heartbeat.seq - b.heartbeat.seq,
  );
  for (const { id, heartbeat } of ordered) {
    const prev = nodes.get(heartbeat.nodeId);
    const outcome = applyHeartbeat(prev, heartbeat, {
      policy: snapshot.policy,
      now: options.now,
      sweepShards: options.sweepShards,
      sourceHeads: sourceHeadsFor(nodes, snapshot.sourceHeads, heartbeat.replication?.sourceNodeId),
      // The batch's own view: a node judged earlier in the batch (primaries first) counts as it is now.
      topology: {
        primaryNodeId: snapshot.primaryNodeId,
        epoch: snapshot.epoch,
        lockIncidentId: snapshot.lockIncidentId,
        lockRunbook: snapshot.lockRunbook,
        nodes,
      },
    });
    if (outcome.kind === 'applied') {
      // The version only counts writes, not heartbeats: every change in the batch shares one write.
      const before = snapshot.nodes.get(heartbeat.nodeId);
      const state = withTransition({ ...outcome.state, version: (before?.version ?? 0) + 1 }, before);
      nodes.set(heartbeat.nodeId, state);
      changed.set(heartbeat.nodeId, state);
      outcomes.set(id, { kind: 'applied', nodeId: heartbeat.nodeId });
    } else {
      outcomes.set(id, { kind: outcome.kind, nodeId: heartbeat.nodeId, reason: outcome.reason });
    }
  }
  return { changed, outcomes };
}
