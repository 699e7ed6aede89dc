import { mapWithLimit } from '../adapters/concurrency';
import type { Log } from '../adapters/log';
import type { NodeStateStore, SweepIndex } from '../adapters/node-state-store';
import { detectionLatencyMs } from '../core/detection-latency';
import type { ClusterSnapshot } from '../core/fold';
import { sweepShardIds } from '../core/node-state';
import { sweepNode } from '../core/silence';

export interface SweepDeps {
  readonly index: SweepIndex;
  readonly store: Pick<NodeStateStore, 'loadCluster' | 'putNode'>;
  readonly logger: Log;
  readonly shards: number;
}

export interface SweepReport {
  /** Nodes whose exact deadline had passed. */
  readonly overdue: number;
  /** Nodes written SILENT or DEAD (or re-scheduled). */
  readonly marked: number;
  /** Overdue nodes whose write lost to a heartbeat (or another sweep): the heartbeat wins. */
  readonly lostRaces: number;
  /** Nodes the sweep index returned (their bucket has begun): what the exact check looked at. */
  readonly candidates: number;
  /** Items read from the sweep index (what finding the candidates cost). */
  readonly indexItemsRead: number;
  readonly indexRequests: number;
  /** Node items read for their exact deadline (the candidates' clusters, once each). */
  readonly deadlineItemsRead: number;
  /** Node items read to judge the overdue nodes (their clusters, once each). */
  readonly clusterItemsRead: number;
  readonly transitions: readonly Transition[];
}

/** A status change the sweep wrote; `latencyMs` is how long after the node's deadline (see detectionLatencyMs). */
export interface Transition {
  readonly clusterId: string;
  readonly nodeId: string;
  readonly from: string;
  readonly to: string;
  readonly latencyMs?: number;
}

/** Clusters whose deadlines are read at once. */
const CLUSTER_READS_IN_FLIGHT = 48;

/**
 * One sweep: query every shard of the sweep index for candidates (nodes whose deadline bucket has begun,
 * a superset of the overdue ones), read each candidate cluster's exact deadlines consistently, judge the
 * overdue nodes with their cluster (read once per cluster, consistently), and write the verdict
 * conditionally on the version read, so that a heartbeat landing at the same moment wins (the sweep's
 * write fails; the node is not overdue).
 *
 * The bound (docs/SIZING.md "The sweep index"): a sweep at `now` marks every node whose `deadlineAt` is at
 * or before `now`, because a node's `sweepAt` is never after its `deadlineAt`. So with sweeps every P
 * seconds a node that stops reporting is found within `heartbeatTimeoutSeconds` + P of its last heartbeat.
 */
export async function sweepOnce(deps: SweepDeps, now: number): Promise<SweepReport> {
  const shardIds = sweepShardIds(deps.shards);
  const queries = await Promise.all(shardIds.map((shard) => deps.index.queryCandidates(shard, now)));
  const candidates = queries.flatMap((q) => q.nodes);
  const byCluster = new Map<string, string[]>();
  for (const node of candidates)
    byCluster.set(node.clusterId, [...(byCluster.get(node.clusterId) ?? []), node.nodeId]);

  let overdue = 0;
  let marked = 0;
  let lostRaces = 0;
  let deadlineItemsRead = 0;
  let clusterItemsRead = 0;
  const transitions: Transition[] = [];
  await mapWithLimit([...byCluster], CLUSTER_READS_IN_FLIGHT, async ([clusterId, nodeIds]) => {
    const exact = await deps.index.readDeadlines(clusterId);
    deadlineItemsRead += exact.itemsRead;
    const due = nodeIds.filter((nodeId) => (exact.deadlines.get(nodeId) ?? Number.POSITIVE_INFINITY) <= now);
    if (due.length === 0) return;
    overdue += due.length;
    const snapshot: ClusterSnapshot = await deps.store.loadCluster(clusterId);
    clusterItemsRead += snapshot.nodes.size;
    const nodes = [...snapshot.nodes.values()];
    for (const nodeId of due) {
      const node = snapshot.nodes.get(nodeId);
      if (!node) continue;
      const next = sweepNode(node, nodes, snapshot.policy, now, snapshot.primaryNodeId);
      if (!next) continue;
      if ((await deps.store.putNode(next)) === 'written') {
        marked++;
        if (next.transitionTo) {
          const latencyMs = detectionLatencyMs(node, next, snapshot.policy, now);
          transitions.push({
            clusterId,
            nodeId,
            from: node.status,
            to: next.status,
            latencyMs,
          });
        }
      } else {
        lostRaces++;
        deps.logger.debug('sweep lost a race to a heartbeat', { clusterId, nodeId });
      }
    }
  });
  return {
    overdue,
    marked,
    lostRaces,
    candidates: candidates.length,
    indexItemsRead: queries.reduce((sum, q) => sum + q.itemsRead, 0),
    indexRequests: queries.reduce((sum, q) => sum + q.requests, 0),
    deadlineItemsRead,
    clusterItemsRead,
    transitions,
  };
}
