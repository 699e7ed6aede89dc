import type { Engine } from './position';

/** Statuses (docs/DESIGN.md §4). Upper case everywhere: table, stream, CLI output. */
export type NodeStatus =
  | 'HEALTHY'
  | 'LAGGING'
  | 'STALLED'
  | 'SILENT'
  | 'DEAD'
  | 'RECOVERING'
  | 'FENCED'
  | 'MAINTENANCE'
  /** A node other than the recorded primary reports itself a writable primary (topology.ts). */
  | 'SPLIT_BRAIN'
  /** A replica replicating from a node that is neither the recorded primary nor a replica (topology.ts). */
  | 'WRONG_SOURCE'
  /** A primary came back with a reset position: data it had is gone (data-loss.ts). Held until cleared. */
  | 'DATA_LOSS';

export type Role = 'primary' | 'replica' | 'unknown';

/** Statuses a heartbeat never sets or clears: runbooks and operators own them. */
export const MANAGED_STATUSES: ReadonlySet<NodeStatus> = new Set(['RECOVERING', 'FENCED', 'MAINTENANCE']);

/** Statuses from which HEALTHY is reached only after `healthyStreak` good heartbeats. */
export const BAD_STATUSES: ReadonlySet<NodeStatus> = new Set(['LAGGING', 'STALLED', 'SILENT', 'DEAD']);

/** One observer's latest view of a node (the node itself is an observer of itself). */
export interface ObserverView {
  seq: number;
  observedAt: number;
  reachable: boolean;
  /**
   * Primaries: the write position this observer last reported. A regression within one replication history
   * is judged against the same observer's earlier report only (data-loss.ts): two observers' clocks disagree.
   */
  position?: string;
  /** Replicas only: their replication link to the source was up. */
  linkUp?: boolean;
  /** Replicas only: the node their replication link points at, as this observer saw it. */
  sourceNodeId?: string;
  /**
   * Replicas only, while `linkUp` is false: since when the link has been seen down (the first down view
   * after an up one). A link that was already down before a primary fell silent is no evidence of its death.
   */
  linkDownSince?: number;
}

/**
 * A node's state, as stored in its node item. Times are epoch milliseconds. Positions are kept as the
 * engine's wire strings and parsed through the Position abstraction when compared.
 */
export interface NodeState {
  clusterId: string;
  nodeId: string;
  engine: Engine;
  role: Role;
  status: NodeStatus;
  statusSince: number;
  /** Why the status is what it is, in a sentence an operator reads. */
  statusReason: string;
  /** Sequence number of the latest accepted self-report (observerId = nodeId); -1 before the first. */
  seq: number;
  /** Observation time of the latest reachable heartbeat (self-report or probe). */
  lastHeartbeatAt: number;
  /** Primary: its write position. */
  position?: string;
  /**
   * Primary: its data set's key count at the last report that carried one (wire `datasetKeys`), kept while
   * it stays primary. The restart-empty rule (data-loss.ts) compares the next count with it.
   */
  datasetKeys?: number;
  appliedPosition?: string;
  receivedPosition?: string;
  /** The source head the replica was compared with. */
  sourcePosition?: string;
  sourceNodeId?: string;
  linkUp?: boolean;
  paused?: boolean;
  lagSeconds?: number;
  /** How far the applied position is behind the source, in the engine's units. */
  lagUnits?: number;
  /** Last time the replica's applied position advanced or it was caught up with its source. */
  lastProgressAt: number;
  healthyStreak: number;
  observers: Record<string, ObserverView>;
  /** When the node becomes overdue: lastHeartbeatAt + heartbeatTimeout. Keys the sweep index. */
  deadlineAt: number;
  sweepShard: string;
  /** Operator-set maintenance end (epoch ms); MAINTENANCE holds until then. */
  maintenanceUntil?: number;
  /** Who set the maintenance, and why (recorded with it). */
  maintenanceBy?: string;
  maintenanceReason?: string;
  /**
   * Replicas only: since when the replica has been seen following a node that is not a rightful source
   * (topology.ts). While a failover holds the cluster lock this measures the grace it gets to be repointed.
   */
  wrongSourceSince?: number;
  /**
   * Set when the node, as primary, came back with a reset position (data-loss.ts): what was lost, in a
   * sentence. While set the node's status is DATA_LOSS whatever its heartbeats say; only an operator
   * clears it (heartbeats and the sweep never do), so the incident cannot resolve by itself.
   */
  dataLossReason?: string;
  /** When the data loss was detected. */
  dataLossAt?: number;
  /** Optimistic-locking version; every write increments it. */
  version: number;
  /**
   * Present only on a write that changed the status (absent otherwise, even if an earlier write set it):
   * the table stream's event filter lets exactly these writes through to on-transition.
   */
  transitionTo?: NodeStatus;
  /** The status before that write; absent for a node's first write. */
  transitionFrom?: NodeStatus;
}

/** The node as written: the transition marker set when the status changed since `before`, removed otherwise. */
export function withTransition(state: NodeState, before: NodeState | undefined): NodeState {
  const { transitionTo: _to, transitionFrom: _from, ...rest } = state;
  if (before && before.status === state.status) return rest;
  return before
    ? { ...rest, transitionTo: state.status, transitionFrom: before.status }
    : { ...rest, transitionTo: state.status };
}

/** A stable 32-bit hash of a node (FNV-1a over cluster and node id). */
export function nodeHash(clusterId: string, nodeId: string): number {
  let hash = 0x811c9dc5;
  const text = `${clusterId}/${nodeId}`;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** Stable shard of a node for the sweep index. */
export function sweepShardOf(clusterId: string, nodeId: string, shards: number): string {
  return sweepShardId(nodeHash(clusterId, nodeId) % shards);
}

/** The key of sweep shard `index`. */
export const sweepShardId = (index: number): string => `SHARD#${String(index).padStart(2, '0')}`;

/** Every sweep shard's key, in order: what a sweep or a census queries. */
export const sweepShardIds = (shards: number): string[] =>
  Array.from({ length: shards }, (_, i) => sweepShardId(i));
