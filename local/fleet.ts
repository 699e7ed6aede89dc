import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mapWithLimit } from '../functions/adapters/concurrency';
import { nodeItem as storedNodeItem } from '../functions/adapters/node-state-store';
import { TABLE } from '../functions/adapters/table-definition';
import { type NodeState, sweepShardOf } from '../functions/core/node-state';

/** A node item as ingestion writes it, reporting until `deadlineAt - 30 s`: for fleets in tests and benchmarks. */
export function nodeItem(
  clusterId: string,
  nodeId: string,
  role: NodeState['role'],
  deadlineAt: number,
): Record<string, unknown> {
  const last = deadlineAt - 30_000;
  const state: NodeState = {
    clusterId,
    nodeId,
    engine: 'postgresql',
    role,
    status: 'HEALTHY',
    statusSince: last,
    statusReason: 'reporting',
    seq: 1,
    lastHeartbeatAt: last,
    lastProgressAt: last,
    healthyStreak: 3,
    observers: { [nodeId]: { seq: 1, observedAt: last, reachable: true } },
    deadlineAt,
    sweepShard: sweepShardOf(clusterId, nodeId, TABLE.sweepShards),
    version: 1,
    ...(role === 'primary' ? { position: '0/64' } : { appliedPosition: '0/64' }),
  };
  return storedNodeItem(state);
}

/**
 * A fleet of clusters of `nodesPerCluster` nodes (n0 the primary), all reporting, their deadlines after
 * `now`, plus one overdue replica in each of the `overdue` clusters named.
 */
export function fleet(clusters: number, nodesPerCluster: number, now: number, overdue: readonly number[]) {
  const items: Record<string, unknown>[] = [];
  for (let c = 0; c < clusters; c++) {
    for (let n = 0; n < nodesPerCluster; n++) {
      const late = n === 1 && overdue.includes(c);
      items.push(
        nodeItem(`fleet-${c}`, `n${n}`, n === 0 ? 'primary' : 'replica', late ? now - 1000 : now + 20_000),
      );
    }
  }
  return items;
}

/** Writes items with BatchWriteItem (25 a request, 8 in flight), retrying what DynamoDB leaves unprocessed. */
export async function putItems(
  client: DynamoDBDocumentClient,
  tableName: string,
  items: Record<string, unknown>[],
) {
  const chunks = Array.from({ length: Math.ceil(items.length / 25) }, (_, i) =>
    items.slice(i * 25, i * 25 + 25),
  );
  await mapWithLimit(chunks, 8, async (chunk) => {
    let pending: Record<string, unknown>[] = chunk;
    while (pending.length > 0) {
      const result = await client.send(
        new BatchWriteCommand({
          RequestItems: { [tableName]: pending.map((Item) => ({ PutRequest: { Item } })) },
        }),
      );
      pending = (result.UnprocessedItems?.[tableName] ?? []).map((r) => r.PutRequest?.Item ?? {});
    }
  });
}
