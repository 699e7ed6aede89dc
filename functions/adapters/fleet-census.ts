import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type NodeStatus, sweepShardIds } from '../core/node-state';
import { queryPages } from './paginate';
import { TABLE } from './table-definition';

/** Nodes per status across the fleet. */
export type StatusCounts = Partial<Record<NodeStatus, number>>;

/** Counts the fleet's nodes by status (the sweep publishes it as the NodesByStatus metric). */
export interface FleetCensus {
  countByStatus(shards: number): Promise<StatusCounts>;
}

/**
 * The census from the sweep index: every node item is in it (a silent node keeps a far deadline), with
 * `status` projected, so one paginated Query per shard reads only the index's small items, never the
 * node items. Unlike a sweep it is O(fleet): the sweep runs it once per invocation (once a minute).
 */
export class DynamoFleetCensus implements FleetCensus {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async countByStatus(shards: number): Promise<StatusCounts> {
    const counts: StatusCounts = {};
    const shardIds = sweepShardIds(shards);
    await Promise.all(
      shardIds.map(async (shard) => {
        const pages = queryPages(this.client, {
          TableName: this.tableName,
          IndexName: TABLE.sweepIndex.name,
          KeyConditionExpression: '#shard = :shard',
          ProjectionExpression: '#status',
          ExpressionAttributeNames: { '#shard': TABLE.sweepIndex.partitionKey, '#status': 'status' },
          ExpressionAttributeValues: { ':shard': shard },
        });
        for await (const page of pages) {
          for (const item of page.Items ?? []) {
            const status = String(item.status) as NodeStatus;
            counts[status] = (counts[status] ?? 0) + 1;
          }
        }
      }),
    );
    return counts;
  }
}
