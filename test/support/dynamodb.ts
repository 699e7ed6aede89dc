import { randomUUID } from 'node:crypto';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../functions/adapters/clients';
import { DynamoNodeStateStore } from '../../functions/adapters/node-state-store';
import { keys } from '../../functions/adapters/table-definition';
import type { NodeState } from '../../functions/core/node-state';
import { createNodeStateTable, LOCAL_AWS } from '../../local/dynamodb-local';
import { DDB_ENDPOINT_ENV } from './paths';

export function localEndpoint(): string {
  const endpoint = process.env[DDB_ENDPOINT_ENV];
  if (!endpoint)
    throw new Error(
      `${DDB_ENDPOINT_ENV} is not set: run integration tests through jest's integration project`,
    );
  return endpoint;
}

export interface TestTable {
  readonly tableName: string;
  readonly client: DynamoDBDocumentClient;
  readonly store: DynamoNodeStateStore;
  getNode(clusterId: string, nodeId: string): Promise<NodeState | undefined>;
  clusterItems(clusterId: string): Promise<Record<string, unknown>[]>;
  drop(): Promise<void>;
}

/** A fresh node-state table on the run's DynamoDB Local, built from the shared table definition. */
export async function createTestTable(prefix = 'nodes'): Promise<TestTable> {
  const endpoint = localEndpoint();
  const tableName = `${prefix}-${randomUUID().slice(0, 8)}`;
  await createNodeStateTable(endpoint, tableName);
  const client = documentClient({ ...LOCAL_AWS, endpoint });
  const store = new DynamoNodeStateStore(client, tableName);
  return {
    tableName,
    client,
    store,
    async getNode(clusterId, nodeId) {
      const { Item } = await client.send(
        new GetCommand({
          TableName: tableName,
          Key: { PK: keys.clusterPk(clusterId), SK: keys.nodeSk(nodeId) },
          ConsistentRead: true,
        }),
      );
      return Item as NodeState | undefined;
    },
    async clusterItems(clusterId) {
      const { Items } = await client.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: 'PK = :pk',
          ExpressionAttributeValues: { ':pk': keys.clusterPk(clusterId) },
        }),
      );
      return Items ?? [];
    },
    async drop() {
      const raw = new DynamoDBClient({ ...LOCAL_AWS, endpoint });
      await raw.send(new DeleteTableCommand({ TableName: tableName }));
      raw.destroy();
      client.destroy();
    },
  };
}

/** Counts the commands a client sends, by name (e.g. PutItemCommand). */
export function countCommands(client: DynamoDBDocumentClient): Map<string, number> {
  const counts = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName);
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: `count-${randomUUID()}` },
  );
  return counts;
}
