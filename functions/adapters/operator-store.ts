import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Incident, TimelineEntry } from '../core/incidents';
import type { OperatorActionRecord } from '../core/operator';
import { keys } from './table-definition';

const isConditionFailure = (error: unknown) =>
  error instanceof ConditionalCheckFailedException ||
  (error as Error).name === 'ConditionalCheckFailedException';

/**
 * The operator's writes to the node-state table (functions/operator): each one conditional write that
 * changes nothing when the rule it checks no longer holds (resolves false then), and appends the action to
 * the cluster item's `operatorLog`.
 */
export class OperatorStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Whether the table knows the cluster at all (its META item or any other item of it). */
  async clusterExists(clusterId: string): Promise<boolean> {
    const { Items } = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: { ':pk': keys.clusterPk(clusterId) },
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    return (Items?.length ?? 0) > 0;
  }

  /** Pauses the cluster's automation, unless it is paused already (resolves false, nothing written). */
  async pause(record: OperatorActionRecord): Promise<boolean> {
    return this.updateCluster(record, {
      set: { pausedBy: record.by, pausedReason: record.reason, pausedAt: record.at },
      condition: 'attribute_not_exists(#c_pausedBy)',
    });
  }

  /** Ends a pause, if the cluster is paused (else resolves false, nothing written). */
  async resume(record: OperatorActionRecord): Promise<boolean> {
    return this.updateCluster(record, {
      remove: ['pausedBy', 'pausedReason', 'pausedAt'],
      condition: 'attribute_exists(#c_pausedBy)',
    });
  }

  /** Releases the cluster lock if `holder` still holds it (else resolves false, nothing written). */
  async releaseLock(record: OperatorActionRecord, holder: string): Promise<boolean> {
    return this.updateCluster(record, {
      remove: ['lockIncidentId', 'lockSince', 'lockRunbook'],
      condition: '#c_lockIncidentId = :holder',
      values: { ':holder': holder },
    });
  }

  /**
   * Records an operator's request that starts a runbook (rejoin, rebuild) on the cluster item, if no run
   * holds the cluster lock (else resolves false, nothing written).
   */
  async logRequest(record: OperatorActionRecord): Promise<boolean> {
    return this.updateCluster(record, { condition: 'attribute_not_exists(#c_lockIncidentId)' });
  }

  /**
   * Writes an incident changed by an operator (closed by `ack`, or a timeline entry added), if it is still
   * at the revision read (else resolves false: read it again).
   */
  async saveIncident(next: Incident, previousRevision: number): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: {
            PK: keys.clusterPk(next.clusterId),
            SK: keys.incidentSkOf(next),
          },
          UpdateExpression:
            'SET #state = :state, #timeline = :timeline, #revision = :revision, #updatedAt = :updatedAt' +
            (next.resolvedAt === undefined ? '' : ', #resolvedAt = :resolvedAt') +
            (next.acknowledged === undefined ? '' : ', #acknowledged = :acknowledged'),
          ConditionExpression: '#revision = :previous',
          ExpressionAttributeNames: {
            '#state': 'state',
            '#timeline': 'timeline',
            '#revision': 'revision',
            '#updatedAt': 'updatedAt',
            ...(next.resolvedAt === undefined ? {} : { '#resolvedAt': 'resolvedAt' }),
            ...(next.acknowledged === undefined ? {} : { '#acknowledged': 'acknowledged' }),
          },
          ExpressionAttributeValues: {
            ':state': next.state,
            ':timeline': next.timeline,
            ':revision': next.revision,
            ':updatedAt': next.updatedAt,
            ':previous': previousRevision,
            ':resolvedAt': next.resolvedAt,
            ':acknowledged': next.acknowledged,
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /**
   * Writes the whole incident as an operator restarted its runbook (a manual failover taking it over,
   * `recover`), if it is still at the revision read (else resolves false: read it again). Fields the
   * restart drops (the previous run's outcome, approval token, resolution) are gone from the item.
   */
  async putIncident(next: Incident, previousRevision: number): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            PK: keys.clusterPk(next.clusterId),
            SK: keys.incidentSkOf(next),
            type: 'incident',
            ...next,
          },
          ConditionExpression: '#revision = :previous',
          ExpressionAttributeNames: { '#revision': 'revision' },
          ExpressionAttributeValues: { ':previous': previousRevision },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /** Appends an action to the cluster item's `operatorLog` (the cluster item must exist). */
  async log(record: OperatorActionRecord): Promise<void> {
    if (!(await this.updateCluster(record, { condition: 'attribute_exists(PK)' })))
      throw new Error(`cluster ${record.clusterId} has no cluster item to record ${record.action} on`);
  }

  /** Adds one entry to an incident's timeline (one more revision), retrying on a concurrent change. */
  async noteOnIncident(
    load: () => Promise<Incident | undefined>,
    entry: (incident: Incident) => TimelineEntry,
  ): Promise<Incident | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const incident = await load();
      if (!incident) return undefined;
      const next: Incident = {
        ...incident,
        revision: incident.revision + 1,
        updatedAt: Math.max(incident.updatedAt, entry(incident).at),
        timeline: [...incident.timeline, entry(incident)],
      };
      if (await this.saveIncident(next, incident.revision)) return next;
    }
    throw new Error('the incident kept changing: try again');
  }

  /** One conditional update of the cluster item that also appends `record` to its `operatorLog`. */
  private async updateCluster(
    record: OperatorActionRecord,
    change: {
      set?: Record<string, unknown>;
      remove?: string[];
      condition: string;
      values?: Record<string, unknown>;
    },
  ): Promise<boolean> {
    const names: Record<string, string> = { '#type': 'type', '#log': 'operatorLog' };
    const values: Record<string, unknown> = {
      ':cluster': 'cluster',
      ':entry': [record],
      ':empty': [],
      ...change.values,
    };
    const sets = [
      '#type = if_not_exists(#type, :cluster)',
      '#log = list_append(if_not_exists(#log, :empty), :entry)',
    ];
    for (const [field, value] of Object.entries(change.set ?? {})) {
      names[`#c_${field}`] = field;
      values[`:c_${field}`] = value;
      sets.push(`#c_${field} = :c_${field}`);
    }
    for (const field of change.remove ?? []) names[`#c_${field}`] = field;
    for (const match of change.condition.matchAll(/#c_(\w+)/g)) names[`#c_${match[1]}`] = match[1] ?? '';
    const removes = (change.remove ?? []).map((field) => `#c_${field}`);
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { PK: keys.clusterPk(record.clusterId), SK: keys.clusterMetaSk },
          UpdateExpression: `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}`,
          ConditionExpression: change.condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}
