import type { Log } from '../adapters/log';
import { detectionLatencyMs } from '../adapters/metrics';
import type { NodeStateStore, SweepIndex } from '../adapters/node-state-store';
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
  readonly overdue: number;
  /** Nodes written SILENT or DEAD (or re-scheduled). */
  readonly marked: number;
  /** Overdue nodes whose write lost to a heartbeat (or another sweep): the heartbeat wins. */
  readonly lostRaces: number;
  /** Items read from the sweep index (what finding the overdue nodes cost). */
  readonly indexItemsRead: number;
  readonly indexRequests: number;
  /** Node items read to judge them (their clusters, once each). */
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

/**
 * One sweep: query every shard of the sweep index for nodes whose deadline has passed, judge each with its
 * cluster (read once per cluster, consistently), and write the verdict conditionally on the version read,
 * so that a heartbeat landing at the same moment wins (the sweep's write fails; the node is not overdue).
 */
export async function sweepOnce(deps: SweepDeps, now: number): Promise<SweepReport> {
  const shardIds = sweepShardIds(deps.shards);
  const queries = await Promise.all(shardIds.map((shard) => deps.index.queryOverdue(shard, now)));
  const overdue = queries.flatMap((q) => q.nodes);
  const byCluster = new Map<string, string[]>();
  for (const node of overdue)
    byCluster.set(node.clusterId, [...(byCluster.get(node.clusterId) ?? []), node.nodeId]);

  let marked = 0;
  let lostRaces = 0;
  let clusterItemsRead = 0;
  const transitions: Transition[] = [];
  await Promise.all(
    [...byCluster].map(async ([clusterId, nodeIds]) => {
      const snapshot: ClusterSnapshot = await deps.store.loadCluster(clusterId);
      clusterItemsRead += snapshot.nodes.size;
      const nodes = [...snapshot.nodes.values()];
      for (const nodeId of nodeIds) {
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
              ...(latencyMs === undefined ? {} : { latencyMs }),
            });
          }
        } else {
          lostRaces++;
          deps.logger.debug('sweep lost a race to a heartbeat', { clusterId, nodeId });
        }
      }
    }),
  );
  return {
    overdue: overdue.length,
    marked,
    lostRaces,
    indexItemsRead: queries.reduce((sum, q) => sum + q.itemsRead, 0),
    indexRequests: queries.reduce((sum, q) => sum + q.requests, 0),
    clusterItemsRead,
    transitions,
  };
}
