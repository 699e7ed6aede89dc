import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ClusterConfig } from '../core/config/schema';
import { type Policy, PolicyOverridesSchema, resolvePolicy } from '../core/policy';
import { type ClusterItemConfig, CONFIG_OWNED_FIELDS, toClusterItems } from './cluster-items';
import { mapWithLimit } from './concurrency';
import { scanPages } from './paginate';
import { keys } from './table-definition';

/** What applying a configuration file did to the table. Cluster ids are sorted. */
export interface ClusterConfigApplySummary {
  /** Clusters that had no META item. */
  readonly created: readonly string[];
  /** Clusters whose configured fields changed (or that had a META item written only by the runtime). */
  readonly updated: readonly string[];
  /** Clusters whose configured fields were already as in the file. */
  readonly unchanged: readonly string[];
  /** Clusters in the table (a META item or nodes) that the file does not list: left as they are. */
  readonly notInFile: readonly string[];
  /** One line for people, naming what changed: `1 created (a), 1 updated (b), 7 unchanged; not in the file: c (left as they are)`. */
  readonly text: string;
}

export interface ApplyClusterConfigOptions {
  /**
   * Look for clusters the file does not list (a Scan of the table's keys, paginated). Turn it off where
   * a Scan of a large table is not wanted; `notInFile` is then empty.
   *
   * @default true
   */
  readonly findClustersNotInFile?: boolean;
}

/**
 * Writes each cluster of `config` to its META item (`CLUSTER#<id>` / `META`): one UpdateItem per cluster
 * that sets only the fields the configuration owns (mode, policy overrides, nodes, hooks, approval
 * timeout, credentials secret, engine), plus `type` and `configuredAt`, and removes an owned field the
 * file no longer has. What the runbooks and the CLI maintain (epoch, primaryNodeId, the lock, the
 * cooldown, maintenance) is never touched, so re-applying a file in the middle of a failover is safe.
 *
 * Clusters in the table but not in the file are not deleted (their history and incidents stay); the
 * summary names them.
 *
 * @example
 * const summary = await applyClusterConfig(client, tableName, parseClusterConfig(text), Date.now());
 * console.log(summary.text);
 */
export async function applyClusterConfig(
  client: DynamoDBDocumentClient,
  tableName: string,
  config: ClusterConfig,
  now: number,
  options: ApplyClusterConfigOptions = {},
): Promise<ClusterConfigApplySummary> {
  const items = toClusterItems(config);
  const outcomes = await mapWithLimit(items, 8, async (item) => ({
    clusterId: item.clusterId,
    outcome: await applyOne(client, tableName, item, now),
  }));
  const inFile = new Set(items.map((item) => item.clusterId));
  const notInFile =
    options.findClustersNotInFile === false
      ? []
      : (await clusterIdsInTable(client, tableName)).filter((id) => !inFile.has(id));
  const pick = (kind: Outcome) =>
    outcomes
      .filter((o) => o.outcome === kind)
      .map((o) => o.clusterId)
      .sort();
  const created = pick('created');
  const updated = pick('updated');
  const unchanged = pick('unchanged');
  const list = (ids: readonly string[]) => (ids.length > 0 ? ` (${ids.join(', ')})` : '');
  const text =
    `${created.length} created${list(created)}, ${updated.length} updated${list(updated)}, ` +
    `${unchanged.length} unchanged` +
    (notInFile.length > 0 ? `; not in the file: ${notInFile.join(', ')} (left as they are)` : '');
  return { created, updated, unchanged, notInFile, text };
}

type Outcome = 'created' | 'updated' | 'unchanged';

async function applyOne(
  client: DynamoDBDocumentClient,
  tableName: string,
  item: ClusterItemConfig,
  now: number,
): Promise<Outcome> {
  const names: Record<string, string> = { '#type': 'type', '#configuredAt': 'configuredAt' };
  const values: Record<string, unknown> = { ':type': 'cluster', ':configuredAt': now };
  const set = ['#type = :type', '#configuredAt = :configuredAt'];
  const remove: string[] = [];
  const fields = item as unknown as Record<string, unknown>;
  CONFIG_OWNED_FIELDS.forEach((field, index) => {
    names[`#f${index}`] = field;
    if (fields[field] === undefined) remove.push(`#f${index}`);
    else {
      set.push(`#f${index} = :f${index}`);
      values[`:f${index}`] = fields[field];
    }
  });
  const { Attributes: before } = await client.send(
    new UpdateCommand({
      TableName: tableName,
      Key: { PK: keys.clusterPk(item.clusterId), SK: keys.clusterMetaSk },
      UpdateExpression: `SET ${set.join(', ')}${remove.length > 0 ? ` REMOVE ${remove.join(', ')}` : ''}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ReturnValues: 'ALL_OLD',
    }),
  );
  if (!before) return 'created';
  const changed = CONFIG_OWNED_FIELDS.some((field) => canonical(before[field]) !== canonical(fields[field]));
  return changed ? 'updated' : 'unchanged';
}

/** Ids of the clusters with a META item or node items in the table. */
export async function clusterIdsInTable(
  client: DynamoDBDocumentClient,
  tableName: string,
): Promise<string[]> {
  const ids = new Set<string>();
  const pages = scanPages(client, {
    TableName: tableName,
    ProjectionExpression: '#pk',
    FilterExpression: '#sk = :meta OR begins_with(#sk, :node)',
    ExpressionAttributeNames: { '#pk': 'PK', '#sk': 'SK' },
    ExpressionAttributeValues: { ':meta': keys.clusterMetaSk, ':node': keys.nodePrefix },
  });
  for await (const page of pages) {
    for (const row of page.Items ?? []) {
      const id = typeof row.PK === 'string' ? keys.clusterIdOfPk(row.PK) : undefined;
      if (id !== undefined) ids.add(id);
    }
  }
  return [...ids].sort();
}

/**
 * The policy of every cluster item in the table (a Scan: for local mode, whose sweep follows the clusters'
 * policies); a policy that does not parse counts as the defaults, as the detector reads it.
 */
export async function clusterPolicies(client: DynamoDBDocumentClient, tableName: string): Promise<Policy[]> {
  const policies: Policy[] = [];
  const pages = scanPages(client, {
    TableName: tableName,
    ProjectionExpression: '#policy',
    FilterExpression: '#sk = :meta',
    ExpressionAttributeNames: { '#sk': 'SK', '#policy': 'policy' },
    ExpressionAttributeValues: { ':meta': keys.clusterMetaSk },
  });
  for await (const page of pages) {
    for (const row of page.Items ?? []) {
      const parsed = PolicyOverridesSchema.safeParse(row.policy ?? {});
      policies.push(resolvePolicy(parsed.success ? parsed.data : {}));
    }
  }
  return policies;
}

/** JSON with sorted keys: DynamoDB does not keep the order of a map's keys. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
