import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  type PutCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { ClusterSnapshot } from '../core/fold';
import { type NodeState, nodeHash } from '../core/node-state';
import { PolicyOverridesSchema, resolvePolicy } from '../core/policy';
import type { SourceHead } from '../core/source-head';
import { sweepKeyOf } from '../core/sweep-key';
import { type Log, silentLog } from './log';
import { queryPages } from './paginate';
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

/** A node the sweep index returned: its bucket has begun, so it may be overdue (only its ids are read). */
export interface SweepCandidate {
  clusterId: string;
  nodeId: string;
}

export interface CandidateQuery {
  nodes: SweepCandidate[];
  /** Items DynamoDB read to answer (ScannedCount): what finding the candidates cost. */
  itemsRead: number;
  requests: number;
}

/** The exact deadlines of a cluster's nodes, read consistently from the node items. */
export interface ClusterDeadlines {
  deadlines: Map<string, number>;
  itemsRead: number;
}

/**
 * The sweep's view of the table: the candidates from the sparse (shard, bucket) index, then the exact
 * deadlines of a cluster's nodes (docs/SIZING.md "The sweep index").
 */
export interface SweepIndex {
  queryCandidates(shard: string, now: number): Promise<CandidateQuery>;
  readDeadlines(clusterId: string): Promise<ClusterDeadlines>;
}

/** A node item as stored: the node's state under its keys, with its sweep-index key (`sweepAt`). */
export function nodeItem(state: NodeState): Record<string, unknown> {
  const offset = nodeHash(state.clusterId, state.nodeId) % TABLE.sweepBucketMs;
  return {
    PK: keys.clusterPk(state.clusterId),
    SK: keys.nodeSk(state.nodeId),
    type: 'node',
    ...state,
    [TABLE.sweepIndex.sortKey]: sweepKeyOf(state.deadlineAt, offset, TABLE.sweepBucketMs),
  };
}

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
  const { PK: _pk, SK: _sk, type: _type, sweepAt: _sweepAt, ...rest } = item;
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
    // META, NODE#… and SOURCE#… sort at or after 'META'; INCIDENT#… items sort before and are skipped.
    const pages = queryPages(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: '#pk = :pk AND #sk >= :meta',
      ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#sk': TABLE.sortKey },
      ExpressionAttributeValues: { ':pk': keys.clusterPk(clusterId), ':meta': keys.clusterMetaSk },
      ConsistentRead: true,
    });
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        const sk = String(item[TABLE.sortKey]);
        if (sk === keys.clusterMetaSk) {
          policyOverrides = item.policy;
          meta = item;
        } else if (sk.startsWith(keys.nodePrefix)) {
          const node = stripKeys<NodeState>(item);
          nodes.set(node.nodeId, node);
        } else if (sk.startsWith(keys.sourcePrefix)) sourceHeads.push(String(item.position));
      }
    }

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

  async queryCandidates(shard: string, now: number): Promise<CandidateQuery> {
    const result: CandidateQuery = { nodes: [], itemsRead: 0, requests: 0 };
    const pages = queryPages(this.client, {
      TableName: this.tableName,
      IndexName: TABLE.sweepIndex.name,
      KeyConditionExpression: '#shard = :shard AND #at <= :now',
      ProjectionExpression: '#cluster, #node',
      ExpressionAttributeNames: {
        '#shard': TABLE.sweepIndex.partitionKey,
        '#at': TABLE.sweepIndex.sortKey,
        '#cluster': 'clusterId',
        '#node': 'nodeId',
      },
      ExpressionAttributeValues: { ':shard': shard, ':now': now },
    });
    for await (const page of pages) {
      result.requests++;
      result.itemsRead += page.ScannedCount ?? 0;
      for (const item of page.Items ?? [])
        result.nodes.push({ clusterId: String(item.clusterId), nodeId: String(item.nodeId) });
    }
    return result;
  }

  async readDeadlines(clusterId: string): Promise<ClusterDeadlines> {
    const result: ClusterDeadlines = { deadlines: new Map(), itemsRead: 0 };
    // Consistent: a deadline moved back (a silent node reporting again) must not be read stale.
    const pages = queryPages(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :node)',
      ProjectionExpression: '#node, #deadline',
      ExpressionAttributeNames: {
        '#pk': TABLE.partitionKey,
        '#sk': TABLE.sortKey,
        '#node': 'nodeId',
        '#deadline': 'deadlineAt',
      },
      ExpressionAttributeValues: { ':pk': keys.clusterPk(clusterId), ':node': keys.nodePrefix },
      ConsistentRead: true,
    });
    for await (const page of pages) {
      result.itemsRead += page.ScannedCount ?? 0;
      for (const item of page.Items ?? []) result.deadlines.set(String(item.nodeId), Number(item.deadlineAt));
    }
    return result;
  }

  async putNode(state: NodeState): Promise<WriteResult> {
    return this.conditionalPut(nodeItem(state), state.version);
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
