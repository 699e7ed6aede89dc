import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { SecretsManagerClient, SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import type { SFNClient, SFNClientConfig } from '@aws-sdk/client-sfn';
import type { SNSClient, SNSClientConfig } from '@aws-sdk/client-sns';
import type { SQSClient, SQSClientConfig } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * SDK clients, built once per process (module scope in handlers). Local mode and tests pass an
 * `endpoint` (DynamoDB Local); everything else is the SDK's default chain.
 *
 * A client a function needs on every invocation (DynamoDB) is built at init. One it needs only on some
 * (the quarantine queue for bad records, the alerts topic, the runbooks' state machines, Secrets Manager,
 * Lambda and SSM hooks) is a {@link Lazy} client: its SDK package is imported and the client built on first
 * use, so that a cold start does not pay for it (issue 14, docs/SIZING.md "Lambda init").
 */
export function documentClient(config: DynamoDBClientConfig = {}): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient(config), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    unmarshallOptions: { wrapNumbers: false },
  });
}

/** A value made on its first call, once: later and concurrent calls share it; a failed make is tried again. */
export type Lazy<T> = () => Promise<T>;

export function lazy<T>(make: () => Promise<T>): Lazy<T> {
  let made: Promise<T> | undefined;
  return () => {
    made ??= make().catch((error: unknown) => {
      made = undefined;
      throw error;
    });
    return made;
  };
}

/** An SDK client as adapters take it: built (tests, local mode), or {@link Lazy} (the deployed functions). */
export type ClientSource<T extends object> = T | Lazy<T>;

/** The client of a {@link ClientSource}, built now if it is lazy and not built yet. */
export async function clientOf<T extends object>(source: ClientSource<T>): Promise<T> {
  return typeof source === 'function' ? source() : source;
}

/** The quarantine queue's client, built on first use. */
export function sqsClient(config: SQSClientConfig = {}): Lazy<SQSClient> {
  return lazy(async () => new (await import('@aws-sdk/client-sqs')).SQSClient(config));
}

/** The alerts topic's client, built on first use. */
export function snsClient(config: SNSClientConfig = {}): Lazy<SNSClient> {
  return lazy(async () => new (await import('@aws-sdk/client-sns')).SNSClient(config));
}

/** Step Functions' client, built on first use. */
export function sfnClient(config: SFNClientConfig = {}): Lazy<SFNClient> {
  return lazy(async () => new (await import('@aws-sdk/client-sfn')).SFNClient(config));
}

/** Secrets Manager's client, built on first use. */
export function secretsManagerClient(config: SecretsManagerClientConfig = {}): Lazy<SecretsManagerClient> {
  return lazy(async () => new (await import('@aws-sdk/client-secrets-manager')).SecretsManagerClient(config));
}
