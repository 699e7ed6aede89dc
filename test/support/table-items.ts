/**
 * Items of the node-state table written and read by hand in tests: a node's state, a cluster item, a
 * cluster's incidents. `table` is any document client and table name: a test table, a local stack's table.
 */
import {
  type DynamoDBDocumentClient,
  GetCommand,
  type GetCommandOutput,
  PutCommand,
  QueryCommand,
  type QueryCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import { keys } from '../../functions/adapters/table-definition';
import type { NodeState } from '../../functions/core/node-state';

/** A table to write to and read from. */
export interface TableRef {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

/** Writes the node's state as a node item of `clusterId` (`type: 'node'`, under the cluster's and the node's keys). */
export async function putNodeState(table: TableRef, clusterId: string, state: NodeState): Promise<void> {
  await table.client.send(
    new PutCommand({
      TableName: table.tableName,
      Item: { ...state, PK: keys.clusterPk(clusterId), SK: keys.nodeSk(state.nodeId), type: 'node' },
    }),
  );
}

/** Writes the cluster item of `clusterId` with `fields` (its mode, epoch, primary, nodes…). */
export async function putClusterItem(
  table: TableRef,
  clusterId: string,
  fields: Record<string, unknown>,
): Promise<void> {
  await table.client.send(
    new PutCommand({
      TableName: table.tableName,
      Item: { PK: keys.clusterPk(clusterId), SK: keys.clusterMetaSk, type: 'cluster', ...fields },
    }),
  );
}

/** The cluster item of `clusterId` as it is now (a consistent read). */
export async function getClusterItem(table: TableRef, clusterId: string): Promise<GetCommandOutput['Item']> {
  const { Item } = await table.client.send(
    new GetCommand({
      TableName: table.tableName,
      Key: { PK: keys.clusterPk(clusterId), SK: keys.clusterMetaSk },
      ConsistentRead: true,
    }),
  );
  return Item;
}

/** The incident items of `clusterId` as they are now (a consistent query), oldest first by their keys. */
export async function incidentItems(
  table: TableRef,
  clusterId: string,
): Promise<NonNullable<QueryCommandOutput['Items']>> {
  const { Items } = await table.client.send(
    new QueryCommand({
      TableName: table.tableName,
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :incident)',
      ExpressionAttributeValues: { ':pk': keys.clusterPk(clusterId), ':incident': 'INCIDENT#' },
      ConsistentRead: true,
    }),
  );
  return Items ?? [];
}
