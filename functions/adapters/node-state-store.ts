import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  type PutCommandInput,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import type { ClusterSnapshot } from '../core/fold';
import type { NodeState } from '../core/node-state';
import { PolicyOverridesSchema, resolvePolicy } from '../core/policy';
import type { SourceHead } from '../core/source-head';
import { type Log, silentLog } from './log';
import { keys, TABLE } from './table-definition';

export type WriteResult = 'written' | 'conflict';

/** Where node state lives. Handlers depend on this interface, not on DynamoDB. */
export interface NodeStateStore {
  /** The cluster's policy, recorded topology (primary, epoch, lock), nodes and change-stream heads, in one read. */
  loadCluster(clusterId: string): Promise<ClusterSnapshot>;
  /** Writes a node if its stored version is still `state.version - 1` (absent when that is 0). */
  putNode(state: NodeState): Promise<WriteResult>;
  getSourceHead(clusterId: string, stream: string): Promise<SourceHead | undefined>;
  /** Writes a head if its stored version is still `head.version - 1` (absent when that is 0). */
  putSourceHead(head: SourceHead): Promise<WriteResult>;
}

/** A node found overdue in the sweep index (only the projected attributes). */
export interface OverdueNode {
  clusterId: string;
  nodeId: string;
  deadlineAt: number;
}

export interface OverdueQuery {
  nodes: OverdueNode[];
  /** Items DynamoDB read to answer (ScannedCount): what the sweep pays for. */
  itemsRead: number;
  requests: number;
}

/** The sweep's view of the table: only what is overdue, through the sparse (shard, deadline) index. */
export interface SweepIndex {
  queryOverdue(shard: string, now: number): Promise<OverdueQuery>;
}

const NODE_PREFIX = 'NODE#';
const SOURCE_PREFIX = 'SOURCE#';

function versionCondition(
  version: number,
): Pick<PutCommandInput, 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'> {
  return version <= 1
    ? {
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': TABLE.partitionKey },
      }
    : {
        ConditionExpression: '#version = :expected',
        ExpressionAttributeNames: { '#version': 'version' },
        ExpressionAttributeValues: { ':expected': version - 1 },
      };
}

function stripKeys<T>(item: Record<string, unknown>): T {
  const { PK: _pk, SK: _sk, type: _type, ...rest } = item;
  return rest as T;
}

/**
 * The single-table DynamoDB store (docs/DESIGN.md §3). Every write is conditional on the version read,
 * so concurrent writers (another batch, the sweeper) never overwrite each other: the loser re-reads.
 */
export class DynamoNodeStateStore implements NodeStateStore, SweepIndex {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly log: Log = silentLog,
  ) {}

  async loadCluster(clusterId: string): Promise<ClusterSnapshot> {
    const nodes = new Map<string, NodeState>();
    const sourceHeads: string[] = [];
    let policyOverrides: unknown;
    let meta: Record<string, unknown> = {};
    let startKey: Record<string, unknown> | undefined;
    do {
      // META, NODE#… and SOURCE#… sort at or after 'META'; INCIDENT#… items sort before and are skipped.
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk AND #sk >= :meta',
          ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#sk': TABLE.sortKey },
          ExpressionAttributeValues: { ':pk': keys.clusterPk(clusterId), ':meta': keys.clusterMetaSk },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const sk = String(item[TABLE.sortKey]);
        if (sk === keys.clusterMetaSk) {
          policyOverrides = item.policy;
          meta = item;
        } else if (sk.startsWith(NODE_PREFIX)) {
          const node = stripKeys<NodeState>(item);
          nodes.set(node.nodeId, node);
        } else if (sk.startsWith(SOURCE_PREFIX)) sourceHeads.push(String(item.position));
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);

    let policy = resolvePolicy();
    if (policyOverrides !== undefined) {
      const parsed = PolicyOverridesSchema.safeParse(policyOverrides);
      if (parsed.success) policy = resolvePolicy(parsed.data);
      else {
        this.log.warn('cluster policy in the META item is invalid; using the defaults', {
          clusterId,
          problem: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
        });
      }
    }
    // The recorded topology the runbooks maintain, from the same read (no second request).
    return {
      clusterId,
      policy,
      nodes,
      sourceHeads,
      primaryNodeId: typeof meta.primaryNodeId === 'string' ? meta.primaryNodeId : undefined,
      epoch: typeof meta.epoch === 'number' ? meta.epoch : 0,
      lockIncidentId: typeof meta.lockIncidentId === 'string' ? meta.lockIncidentId : undefined,
      lockRunbook: typeof meta.lockRunbook === 'string' ? meta.lockRunbook : undefined,
    };
  }

  async queryOverdue(shard: string, now: number): Promise<OverdueQuery> {
    const result: OverdueQuery = { nodes: [], itemsRead: 0, requests: 0 };
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: TABLE.sweepIndex.name,
          KeyConditionExpression: '#shard = :shard AND #deadline <= :now',
          ExpressionAttributeNames: {
            '#shard': TABLE.sweepIndex.partitionKey,
            '#deadline': TABLE.sweepIndex.sortKey,
          },
          ExpressionAttributeValues: { ':shard': shard, ':now': now },
          ExclusiveStartKey: startKey,
        }),
      );
      result.requests++;
      result.itemsRead += page.ScannedCount ?? 0;
      for (const item of page.Items ?? []) {
        result.nodes.push({
          clusterId: String(item.clusterId),
          nodeId: String(item.nodeId),
          deadlineAt: Number(item.deadlineAt),
        });
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return result;
  }

  async putNode(state: NodeState): Promise<WriteResult> {
    return this.conditionalPut(
      { PK: keys.clusterPk(state.clusterId), SK: keys.nodeSk(state.nodeId), type: 'node', ...state },
      state.version,
    );
  }

  async getSourceHead(clusterId: string, stream: string): Promise<SourceHead | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { PK: keys.clusterPk(clusterId), SK: keys.sourceSk(stream) },
        ConsistentRead: true,
      }),
    );
    return Item ? stripKeys<SourceHead>(Item) : undefined;
  }

  async putSourceHead(head: SourceHead): Promise<WriteResult> {
    return this.conditionalPut(
      { PK: keys.clusterPk(head.clusterId), SK: keys.sourceSk(head.stream), type: 'source', ...head },
      head.version,
    );
  }

  private async conditionalPut(item: Record<string, unknown>, version: number): Promise<WriteResult> {
    try {
      await this.client.send(
        new PutCommand({ TableName: this.tableName, Item: item, ...versionCondition(version) }),
      );
      return 'written';
    } catch (error) {
      if (
        error instanceof ConditionalCheckFailedException ||
        (error as Error).name === 'ConditionalCheckFailedException'
      ) {
        return 'conflict';
      }
      throw error;
    }
  }
}
