import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { TABLE } from './table-definition';

/**
 * "Do this once per key", with Powertools idempotency records kept in the node-state table
 * (PK = `IDEMPOTENCY#<scope>`, SK = the hashed key, expiring through the table's TTL attribute).
 * A second call with the same key returns without running `deliver` again; a call while the first is
 * still in progress fails (and is retried by its caller).
 */
export function onceInTable(
  client: DynamoDBClient,
  tableName: string,
  scope: string,
  expiresAfterSeconds = 7 * 24 * 3600,
): (key: string, deliver: () => Promise<void>) => Promise<void> {
  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName,
    awsSdkV3Client: client,
    keyAttr: TABLE.partitionKey,
    sortKeyAttr: TABLE.sortKey,
    staticPkValue: `IDEMPOTENCY#${scope}`,
    expiryAttr: TABLE.timeToLiveAttribute,
  });
  const run = makeIdempotent(
    async (_key: { key: string }, deliver: () => Promise<void>) => {
      await deliver();
      return { delivered: true };
    },
    {
      persistenceStore,
      config: new IdempotencyConfig({ eventKeyJmesPath: 'key', expiresAfterSeconds }),
      dataIndexArgument: 0,
    },
  );
  return async (key, deliver) => {
    await run({ key }, deliver);
  };
}
