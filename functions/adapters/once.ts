import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { idempotencyPartitionKey, TABLE } from './table-definition';

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
): Once {
  const persistenceStore = new DynamoDBPersistenceLayer({
    tableName,
    awsSdkV3Client: client,
    keyAttr: TABLE.partitionKey,
    sortKeyAttr: TABLE.sortKey,
    staticPkValue: idempotencyPartitionKey(scope),
    expiryAttr: TABLE.timeToLiveAttribute,
  });
  const config = new IdempotencyConfig({ eventKeyJmesPath: 'key', expiresAfterSeconds });
  const run = makeIdempotent(
    async (_key: { key: string }, deliver: () => Promise<void>) => {
      await deliver();
      return { delivered: true };
    },
    {
      persistenceStore,
      config,
      dataIndexArgument: 0,
    },
  );
  const once = async (key: string, deliver: () => Promise<void>) => {
    await run({ key }, deliver);
  };
  // An in-progress record expires when the invocation would have timed out, so a crashed attempt does
  // not block the retry for long: Powertools needs the Lambda context for that.
  return Object.assign(once, {
    registerLambdaContext: (context: Context) => config.registerLambdaContext(context),
  });
}

/** Runs `deliver` at most once per key; `registerLambdaContext` once per invocation. */
export type Once = ((key: string, deliver: () => Promise<void>) => Promise<void>) & {
  registerLambdaContext?: (context: Context) => void;
};
