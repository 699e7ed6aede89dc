import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { ClusterMode, Incident } from '../core/incidents';
import { type Policy, PolicyOverridesSchema, resolvePolicy } from '../core/policy';
import { keys, TABLE } from './table-definition';

export interface ClusterMeta {
  mode: ClusterMode;
  policy: Policy;
  maintenanceUntil?: number;
  maintenanceBy?: string;
  maintenanceReason?: string;
}

export interface IncidentStore {
  getLatest(clusterId: string, nodeId: string): Promise<Incident | undefined>;
  /**
   * Saves a new or changed incident and points the node's LATEST item at it, atomically, if nobody
   * changed them since `previous` was read. Resolves 'conflict' otherwise.
   */
  save(incident: Incident, previous: Incident | undefined): Promise<'written' | 'conflict'>;
  /** Clears the outbox once its effects were delivered (only if the incident is still at that revision). */
  clearOutbox(incident: Incident): Promise<void>;
  getClusterMeta(clusterId: string): Promise<ClusterMeta>;
  getIncident(clusterId: string, incidentId: string, openedAt: number): Promise<Incident | undefined>;
}

/** Incident items (`INCIDENT#<startedAt>#<id>`) and the per-node LATEST pointers, in the node-state table. */
export class DynamoIncidentStore implements IncidentStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async getLatest(clusterId: string, nodeId: string): Promise<Incident | undefined> {
    const { Item: pointer } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { PK: keys.clusterPk(clusterId), SK: keys.latestSk(nodeId) },
        ConsistentRead: true,
      }),
    );
    if (!pointer) return undefined;
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { PK: keys.clusterPk(clusterId), SK: String(pointer.incidentSk) },
        ConsistentRead: true,
      }),
    );
    return Item ? strip(Item) : undefined;
  }

  async getIncident(clusterId: string, incidentId: string, openedAt: number): Promise<Incident | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { PK: keys.clusterPk(clusterId), SK: keys.incidentSkOf({ incidentId, openedAt }) },
        ConsistentRead: true,
      }),
    );
    return Item ? strip(Item) : undefined;
  }

  async save(incident: Incident, previous: Incident | undefined): Promise<'written' | 'conflict'> {
    const pk = keys.clusterPk(incident.clusterId);
    const sk = keys.incidentSkOf(incident);
    const sameIncident = previous?.incidentId === incident.incidentId;
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: { PK: pk, SK: sk, type: 'incident', ...incident },
                ...(sameIncident
                  ? {
                      ConditionExpression: '#revision = :previous',
                      ExpressionAttributeNames: { '#revision': 'revision' },
                      ExpressionAttributeValues: { ':previous': previous?.revision },
                    }
                  : {
                      ConditionExpression: 'attribute_not_exists(#pk)',
                      ExpressionAttributeNames: { '#pk': TABLE.partitionKey },
                    }),
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: {
                  PK: pk,
                  SK: keys.latestSk(incident.nodeId),
                  type: 'latest-incident',
                  incidentSk: sk,
                  incidentId: incident.incidentId,
                  lastNodeVersion: incident.lastNodeVersion,
                },
                ...(previous
                  ? {
                      ConditionExpression: '#v = :v',
                      ExpressionAttributeNames: { '#v': 'lastNodeVersion' },
                      ExpressionAttributeValues: { ':v': previous.lastNodeVersion },
                    }
                  : {
                      ConditionExpression: 'attribute_not_exists(#pk)',
                      ExpressionAttributeNames: { '#pk': TABLE.partitionKey },
                    }),
              },
            },
          ],
        }),
      );
      return 'written';
    } catch (error) {
      if ((error as Error).name === 'TransactionCanceledException') return 'conflict';
      throw error;
    }
  }

  /**
   * Writes an incident an operator opened (a switchover): its own item only, no LATEST pointer, so no node
   * transition ever updates or resolves it. Fails if the item exists.
   */
  async create(incident: Incident): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          PK: keys.clusterPk(incident.clusterId),
          SK: keys.incidentSkOf(incident),
          type: 'incident',
          ...incident,
        },
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': TABLE.partitionKey },
      }),
    );
  }

  async clearOutbox(incident: Incident): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { PK: keys.clusterPk(incident.clusterId), SK: keys.incidentSkOf(incident) },
          UpdateExpression: 'SET #outbox = :empty',
          ConditionExpression: '#revision = :revision',
          ExpressionAttributeNames: { '#outbox': 'outbox', '#revision': 'revision' },
          ExpressionAttributeValues: { ':empty': {}, ':revision': incident.revision },
        }),
      );
    } catch (error) {
      // A newer revision carries its own outbox; this one was delivered either way.
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
    }
  }

  async getClusterMeta(clusterId: string): Promise<ClusterMeta> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { PK: keys.clusterPk(clusterId), SK: keys.clusterMetaSk },
        ConsistentRead: true,
      }),
    );
    const mode = Item?.mode;
    const overrides = PolicyOverridesSchema.safeParse(Item?.policy ?? {});
    return {
      policy: resolvePolicy(overrides.success ? overrides.data : {}),
      mode: mode === 'approve' || mode === 'dry-run' || mode === 'off' ? mode : 'auto',
      ...(typeof Item?.maintenanceUntil === 'number' ? { maintenanceUntil: Item.maintenanceUntil } : {}),
      ...(typeof Item?.maintenanceBy === 'string' ? { maintenanceBy: Item.maintenanceBy } : {}),
      ...(typeof Item?.maintenanceReason === 'string' ? { maintenanceReason: Item.maintenanceReason } : {}),
    };
  }
}

function strip(item: Record<string, unknown>): Incident {
  const { PK: _pk, SK: _sk, type: _type, ...rest } = item;
  return rest as unknown as Incident;
}
