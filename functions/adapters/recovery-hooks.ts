import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { HookRequest, HookResult, HookSpec, NodeEndpoint } from '../core/hooks';
import type { Engine } from '../core/position';
import {
  type CredentialsSource,
  createHookRunner,
  type HookRunnerDeps,
  replicationProgress,
  type SecretValue,
  secretCredentials,
  urlCredentials,
  verifyPrimary,
} from './hooks';
import { type ServingAnswer, servingState } from './hooks/serving';
import { keys } from './table-definition';

/**
 * What the runbook steps need to act on the servers: the contract this file implements for AWS and local mode
 * (functions/adapters/hooks), and the tests' scripted hooks implement too.
 */
export interface RecoveryHooks {
  run(request: HookRequest, spec: HookSpec | undefined): Promise<HookResult>;
  /** Resolves when the node reports itself primary and writable; throws NotYetPrimaryError otherwise. */
  verifyPrimary(engine: Engine, endpoint: NodeEndpoint, clusterId?: string): Promise<void>;
  /**
   * Asks the node itself, under a hard deadline, whether it takes writes now (the Fence precondition).
   * Never throws: no answer is `unknown`, a refused connection `not-serving`.
   */
  serving(engine: Engine, endpoint: NodeEndpoint, clusterId?: string): Promise<ServingAnswer>;
  /** The node's applied replication position, in the project's position format. */
  replicationProgress(
    engine: Engine,
    endpoint: NodeEndpoint,
    clusterId?: string,
  ): Promise<string | undefined>;
}

/**
 * The hooks the runbook steps use: the dispatching runner (built-in, Lambda, HTTPS, SSM) plus the checks,
 * all reading database credentials from the same source (Secrets Manager in AWS, the node URL locally).
 * The checks are asked with the cluster's id, so a per-cluster secret applies to them as to the hooks.
 */
export function recoveryHooks(deps: HookRunnerDeps): RecoveryHooks {
  const runner = createHookRunner(deps);
  // The checks are asked about one node of a cluster (no cluster id: '', which has no secret of its own).
  const credsFor = (engine: Engine, endpoint: NodeEndpoint, clusterId = '') =>
    deps.credentials({ clusterId, engine, target: endpoint });
  return {
    run: (request, spec) => runner.run(request, spec),
    verifyPrimary: async (engine, endpoint, clusterId) =>
      verifyPrimary(engine, endpoint, await credsFor(engine, endpoint, clusterId)),
    serving: async (engine, endpoint, clusterId) =>
      servingState(engine, endpoint, await credsFor(engine, endpoint, clusterId).catch(() => undefined)),
    replicationProgress: async (engine, endpoint, clusterId) =>
      replicationProgress(engine, endpoint, await credsFor(engine, endpoint, clusterId)),
  };
}

/** Where the per-cluster secret of a deployed stack is found. */
export interface ClusterCredentialsOptions {
  readonly secretValue: SecretValue;
  /** The cluster's `credentialsSecretArn` (its META item, written from the configuration file). */
  readonly clusterSecretArn: (clusterId: string) => Promise<string | undefined>;
  /** The stack-wide secret (`databaseSecretArn`), for clusters without their own. @default - none */
  readonly defaultSecretArn?: string;
}

/**
 * The database login of the built-in hooks and checks in AWS: the cluster's own secret when its
 * configuration names one (`credentialsSecretArn`), else the stack-wide `databaseSecretArn`, else the
 * user name of the node's URL (a deployed configuration holds no password). runbook-steps may read
 * exactly these secrets (infra: the stack grants GetSecretValue on each configured ARN).
 *
 * @example
 * credentials: clusterCredentials({
 *   secretValue,
 *   clusterSecretArn: clusterSecretArnFromTable(client, tableName),
 *   defaultSecretArn: process.env.DATABASE_SECRET_ARN,
 * }),
 */
export function clusterCredentials(options: ClusterCredentialsOptions): CredentialsSource {
  const fromSecret = secretCredentials(
    options.secretValue,
    async (lookup) =>
      (lookup.clusterId === '' ? undefined : await options.clusterSecretArn(lookup.clusterId)) ??
      options.defaultSecretArn,
  );
  return async (lookup) => (await fromSecret(lookup)) ?? urlCredentials(lookup.target);
}

/** Reads `credentialsSecretArn` of a cluster's META item (`CLUSTER#<id>` / `META`); undefined when absent. */
export function clusterSecretArnFromTable(
  client: DynamoDBDocumentClient,
  tableName: string,
): (clusterId: string) => Promise<string | undefined> {
  return async (clusterId) => {
    const { Item } = await client.send(
      new GetCommand({
        TableName: tableName,
        Key: { PK: keys.clusterPk(clusterId), SK: keys.clusterMetaSk },
        ProjectionExpression: 'credentialsSecretArn',
      }),
    );
    const arn = Item?.credentialsSecretArn;
    return typeof arn === 'string' && arn !== '' ? arn : undefined;
  };
}
