import { randomUUID } from 'node:crypto';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, beforeEach } from '@jest/globals';
import { documentClient } from '../../functions/adapters/clients';
import { DynamoNodeStateStore } from '../../functions/adapters/node-state-store';
import { keys } from '../../functions/adapters/table-definition';
import type { NodeState } from '../../functions/core/node-state';
import { createNodeStateTable, LOCAL_AWS } from '../../local/dynamodb-local';
import { DDB_ENDPOINT_ENV } from './paths';
import { standIn } from './stand-in';

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

/**
 * For a describe block (or a file): a fresh test table before its tests (`'all'`) or before each test
 * (`'each'`), dropped after them. What it returns stands for the table of the moment: read it in tests
 * and hooks, not while the file is loaded.
 */
export function useTestTable(prefix: string, per: 'all' | 'each' = 'all'): TestTable {
  let table: TestTable | undefined;
  (per === 'all' ? beforeAll : beforeEach)(async () => {
    table = await createTestTable(prefix);
  });
  (per === 'all' ? afterAll : afterEach)(async () => {
    await table?.drop();
    table = undefined;
  });
  return tableOfTheMoment(() => {
    if (table === undefined) throw new Error(`the ${prefix} test table is created in a before hook`);
    return table;
  });
}

/** A test table that forwards everything to `current()`: for fixtures that create the table in a hook. */
export function tableOfTheMoment(current: () => TestTable): TestTable {
  return standIn(current, ['tableName', 'client', 'store', 'getNode', 'clusterItems', 'drop']);
}

/**
 * For a describe block: a low-level DynamoDB client on the run's DynamoDB Local (what `onceInTable` takes),
 * made before its tests and destroyed after them. Call the returned function in tests.
 */
export function useRawClient(): () => DynamoDBClient {
  let raw: DynamoDBClient | undefined;
  beforeAll(async () => {
    raw = new DynamoDBClient({ ...LOCAL_AWS, endpoint: localEndpoint() });
  });
  afterAll(async () => {
    raw?.destroy();
  });
  return () => {
    if (raw === undefined) throw new Error('the DynamoDB client is made in beforeAll');
    return raw;
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
