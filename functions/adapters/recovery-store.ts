import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { NodeFailoverConfig } from '../core/candidate';
import type { ClusterHooks, NodeEndpoint } from '../core/hooks';
import type { Incident, RunbookName, RunbookStepEntry } from '../core/incidents';
import type { EpochRecord } from '../core/operator';
import { PolicyOverridesSchema, resolvePolicy } from '../core/policy';
import {
  type ClusterRecoveryState,
  DEFAULT_APPROVAL_TIMEOUT_SECONDS,
  type LockRequest,
} from '../core/recovery';
import { allItems, queryPages } from './paginate';
import { keys } from './table-definition';

const isConditionFailure = (error: unknown) =>
  error instanceof ConditionalCheckFailedException ||
  (error as Error).name === 'ConditionalCheckFailedException';

const incidentKey = (clusterId: string, incidentId: string, openedAt: number) => ({
  PK: keys.clusterPk(clusterId),
  SK: keys.incidentSkOf({ openedAt, incidentId }),
});

/**
 * The cluster lock, the fencing epoch and the runbook's records on the incident, in the node-state table.
 * Every change that matters for safety is one conditional write: two runs can never both hold the lock,
 * and the epoch moves exactly once per failover.
 */
export class RecoveryStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async getCluster(clusterId: string): Promise<ClusterRecoveryState> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { PK: keys.clusterPk(clusterId), SK: keys.clusterMetaSk },
        ConsistentRead: true,
      }),
    );
    const item = Item ?? {};
    const overrides = PolicyOverridesSchema.safeParse(item.policy ?? {});
    const mode = item.mode;
    return {
      mode: mode === 'approve' || mode === 'dry-run' || mode === 'off' ? mode : 'auto',
      policy: resolvePolicy(overrides.success ? overrides.data : {}),
      epoch: typeof item.epoch === 'number' ? item.epoch : 0,
      ...(typeof item.primaryNodeId === 'string' ? { primaryNodeId: item.primaryNodeId } : {}),
      ...(typeof item.lockIncidentId === 'string' ? { lockIncidentId: item.lockIncidentId } : {}),
      ...(typeof item.lockSince === 'number' ? { lockSince: item.lockSince } : {}),
      ...(item.lockRunbook === 'primary-failover' ||
      item.lockRunbook === 'replica-recovery' ||
      item.lockRunbook === 'primary-switchover'
        ? { lockRunbook: item.lockRunbook }
        : {}),
      ...(typeof item.epochIncidentId === 'string' ? { epochIncidentId: item.epochIncidentId } : {}),
      ...(typeof item.epochCandidate === 'string' ? { epochCandidate: item.epochCandidate } : {}),
      fencing: item.fencing === 'trust-quorum' ? 'trust-quorum' : 'strict',
      ...(typeof item.lastRecoveryAt === 'number' ? { lastRecoveryAt: item.lastRecoveryAt } : {}),
      ...(typeof item.maintenanceUntil === 'number' ? { maintenanceUntil: item.maintenanceUntil } : {}),
      ...(typeof item.maintenanceBy === 'string' ? { maintenanceBy: item.maintenanceBy } : {}),
      ...(typeof item.maintenanceReason === 'string' ? { maintenanceReason: item.maintenanceReason } : {}),
      ...(typeof item.pausedBy === 'string' ? { pausedBy: item.pausedBy } : {}),
      ...(typeof item.pausedReason === 'string' ? { pausedReason: item.pausedReason } : {}),
      ...(typeof item.pausedAt === 'number' ? { pausedAt: item.pausedAt } : {}),
      ...(Array.isArray(item.slackAllowedUserIds)
        ? { slackAllowedUserIds: item.slackAllowedUserIds.map(String) }
        : {}),
      nodes: Array.isArray(item.nodes) ? (item.nodes as (NodeEndpoint & NodeFailoverConfig)[]) : [],
      hooks: (item.hooks ?? {}) as ClusterHooks,
      approvalTimeoutSeconds:
        typeof item.approvalTimeoutSeconds === 'number'
          ? item.approvalTimeoutSeconds
          : DEFAULT_APPROVAL_TIMEOUT_SECONDS,
    };
  }

  /**
   * Takes the cluster lock for `incidentId` in one conditional write, under the rules of `lockVerdict`
   * (functions/core/recovery.ts): nobody else holds it (a failover may take it from a replica recovery),
   * no maintenance, no pause, and for a failover the cooldown is over (`request`: what an operator's request
   * lifts, see `LockRequest`). Resolves false when any rule blocks it.
   */
  async takeLock(
    clusterId: string,
    incidentId: string,
    now: number,
    recoveryBlockSeconds: number,
    runbook: RunbookName = 'primary-failover',
    request: LockRequest = {},
  ): Promise<boolean> {
    const failover = runbook === 'primary-failover';
    // A switchover waits out the cooldown like a failover, but never preempts a replica recovery.
    const cooled = (failover || runbook === 'primary-switchover') && !request.ignoreCooldown;
    const paused = request.ignorePause ? '' : ' AND attribute_not_exists(#paused)';
    const maintenance = request.ignoreMaintenance
      ? ''
      : ' AND (attribute_not_exists(#maint) OR #maint <= :now)';
    const free = failover
      ? '(attribute_not_exists(#lock) OR #lock = :me OR #runbook = :replicaRecovery)'
      : '(attribute_not_exists(#lock) OR #lock = :me)';
    const cooldown = cooled
      ? ' AND (#lock = :me OR attribute_not_exists(#last) OR #last <= :cooldownEdge)'
      : '';
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { PK: keys.clusterPk(clusterId), SK: keys.clusterMetaSk },
          // lockSince: when the current holder took it (a retried take moves it a little; it only informs).
          UpdateExpression:
            'SET #lock = :me, #since = :now, #runbook = :runbook, #type = if_not_exists(#type, :cluster)',
          ConditionExpression: `${free}${cooldown}${maintenance}${paused}`,
          ExpressionAttributeNames: {
            '#lock': 'lockIncidentId',
            '#since': 'lockSince',
            '#runbook': 'lockRunbook',
            ...(request.ignoreMaintenance ? {} : { '#maint': 'maintenanceUntil' }),
            ...(request.ignorePause ? {} : { '#paused': 'pausedBy' }),
            '#type': 'type',
            ...(cooled ? { '#last': 'lastRecoveryAt' } : {}),
          },
          ExpressionAttributeValues: {
            ':me': incidentId,
            ':now': now,
            ':runbook': runbook,
            ':cluster': 'cluster',
            ...(cooled ? { ':cooldownEdge': now - recoveryBlockSeconds * 1000 } : {}),
            ...(failover ? { ':replicaRecovery': 'replica-recovery' } : {}),
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /** Releases the lock if `incidentId` holds it; a finished recovery also starts the cooldown. */
  async releaseLock(clusterId: string, incidentId: string, recoveredAt?: number): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { PK: keys.clusterPk(clusterId), SK: keys.clusterMetaSk },
          UpdateExpression:
            recoveredAt === undefined
              ? 'REMOVE #lock, #since, #runbook'
              : 'REMOVE #lock, #since, #runbook SET #last = :at',
          ConditionExpression: '#lock = :me',
          ExpressionAttributeNames: {
            '#lock': 'lockIncidentId',
            '#since': 'lockSince',
            '#runbook': 'lockRunbook',
            ...(recoveredAt === undefined ? {} : { '#last': 'lastRecoveryAt' }),
          },
          ExpressionAttributeValues: {
            ':me': incidentId,
            ':at': recoveredAt,
          },
        }),
      );
    } catch (error) {
      // Already released (a retried step): nothing to do.
      if (!isConditionFailure(error)) throw error;
    }
  }

  /**
   * The fencing step: epoch + 1, only while `incidentId` holds the lock and the epoch is still `expected`,
   * recording in the same write the `candidate` the epoch moves for (`epochCandidate`: the only node this
   * failover may promote). Idempotent for a retried step: if this incident already moved it to expected + 1
   * for the same candidate, resolves that; for another candidate (a stopped run's late step) it throws.
   */
  async bumpEpoch(
    clusterId: string,
    incidentId: string,
    expected: number,
    fencedNodeId: string,
    candidate: string,
  ): Promise<number> {
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { PK: keys.clusterPk(clusterId), SK: keys.clusterMetaSk },
          UpdateExpression: 'SET #epoch = :next, #fencedBy = :me, #fenced = :node, #for = :candidate',
          ConditionExpression:
            '#lock = :me AND ((attribute_not_exists(#epoch) AND :expected = :zero) OR #epoch = :expected)',
          ExpressionAttributeNames: {
            '#epoch': 'epoch',
            '#lock': 'lockIncidentId',
            '#fencedBy': 'epochIncidentId',
            '#fenced': 'fencedNodeId',
            '#for': 'epochCandidate',
          },
          ExpressionAttributeValues: {
            ':next': expected + 1,
            ':me': incidentId,
            ':expected': expected,
            ':zero': 0,
            ':node': fencedNodeId,
            ':candidate': candidate,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Number(Attributes?.epoch);
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const cluster = await this.client.send(
        new GetCommand({
          TableName: this.tableName,
          Key: { PK: keys.clusterPk(clusterId), SK: keys.clusterMetaSk },
          ConsistentRead: true,
        }),
      );
      if (cluster.Item?.epochIncidentId === incidentId && cluster.Item.epoch === expected + 1) {
        if (cluster.Item.epochCandidate === candidate) return expected + 1;
        throw new Error(
          `cannot fence for ${candidate}: this incident moved the epoch to ${expected + 1} for ${cluster.Item.epochCandidate ?? 'an unrecorded candidate'}`,
        );
      }
      throw new Error(
        `cannot fence: the lock or the epoch changed (epoch ${cluster.Item?.epoch}, lock ${cluster.Item?.lockIncidentId})`,
      );
    }
  }

  /** Records the new primary, only under the run's own lock and epoch. */
  async setPrimary(
    clusterId: string,
    incidentId: string,
    epoch: number,
    primaryNodeId: string,
  ): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { PK: keys.clusterPk(clusterId), SK: keys.clusterMetaSk },
        UpdateExpression: 'SET #primary = :primary',
        ConditionExpression: '#lock = :me AND #epoch = :epoch',
        ExpressionAttributeNames: {
          '#primary': 'primaryNodeId',
          '#lock': 'lockIncidentId',
          '#epoch': 'epoch',
        },
        ExpressionAttributeValues: { ':primary': primaryNodeId, ':me': incidentId, ':epoch': epoch },
      }),
    );
  }

  async getIncident(clusterId: string, incidentId: string, openedAt: number): Promise<Incident | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: incidentKey(clusterId, incidentId, openedAt),
        ConsistentRead: true,
      }),
    );
    if (!Item) return undefined;
    const { PK: _pk, SK: _sk, type: _type, ...rest } = Item;
    return rest as unknown as Incident;
  }

  /** Finds an incident by id within its cluster (the approval API knows only the ids). */
  async findIncident(clusterId: string, incidentId: string): Promise<Incident | undefined> {
    const pages = queryPages(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
      FilterExpression: 'incidentId = :id',
      ExpressionAttributeValues: {
        ':pk': keys.clusterPk(clusterId),
        ':prefix': keys.incidentPrefix,
        ':id': incidentId,
      },
      ConsistentRead: true,
    });
    // The first page that holds it ends the read (leaving the loop requests no further page).
    for await (const page of pages) {
      const item = page.Items?.[0];
      if (item) {
        const { PK: _pk, SK: _sk, type: _type, ...rest } = item;
        return rest as unknown as Incident;
      }
    }
    return undefined;
  }

  /**
   * Records one runbook step on the incident (with optional changes to it), once per execution and step:
   * a retried step finds its key and changes nothing. Resolves the incident as stored and whether this call
   * recorded the step (false: it had been recorded already).
   */
  async recordStep(
    clusterId: string,
    incidentId: string,
    openedAt: number,
    entry: RunbookStepEntry,
    change: Record<string, unknown> = {},
    /** What makes the record unique: by default the execution and step (a retried step is recorded once). */
    key = `${entry.execution}/${entry.step}`,
  ): Promise<{ incident: Incident; fresh: boolean }> {
    const names: Record<string, string> = {
      '#steps': 'runbookSteps',
      '#keys': 'stepKeys',
      '#rev': 'revision',
      '#upd': 'updatedAt',
    };
    const values: Record<string, unknown> = {
      ':entry': [entry],
      ':key': [key],
      ':keyValue': key,
      ':empty': [],
      ':one': 1,
      ':at': entry.at,
    };
    const sets = [
      '#steps = list_append(if_not_exists(#steps, :empty), :entry)',
      '#keys = list_append(if_not_exists(#keys, :empty), :key)',
      '#rev = #rev + :one',
      '#upd = :at',
    ];
    const removes: string[] = [];
    Object.entries(change).forEach(([field, value], i) => {
      names[`#c${i}`] = field;
      if (value === undefined) removes.push(`#c${i}`);
      else {
        values[`:c${i}`] = value;
        sets.push(`#c${i} = :c${i}`);
      }
    });
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: incidentKey(clusterId, incidentId, openedAt),
          UpdateExpression: `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}`,
          ConditionExpression: 'attribute_exists(#rev) AND NOT contains(#keys, :keyValue)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      const { PK: _pk, SK: _sk, type: _type, ...rest } = Attributes ?? {};
      return { incident: rest as unknown as Incident, fresh: true };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const incident = await this.getIncident(clusterId, incidentId, openedAt);
      if (!incident) throw new Error(`incident ${incidentId} of ${clusterId} does not exist`);
      return { incident, fresh: false };
    }
  }

  /**
   * Writes the failover plan on the incident, on every look (not once per key like `recordStep`): the plan
   * on record is always the latest choice, whatever was chosen before.
   */
  async setPlan(clusterId: string, incidentId: string, openedAt: number, plan: Incident['plan'], at: number) {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: incidentKey(clusterId, incidentId, openedAt),
        UpdateExpression: 'SET #plan = :plan, #rev = #rev + :one, #upd = :at',
        ConditionExpression: 'attribute_exists(#rev)',
        ExpressionAttributeNames: { '#plan': 'plan', '#rev': 'revision', '#upd': 'updatedAt' },
        ExpressionAttributeValues: { ':plan': plan, ':one': 1, ':at': at },
      }),
    );
  }

  /**
   * Records one epoch in the cluster's epoch log (`EPOCH#<epoch>`, what `history` prints): a failover's
   * UpdateCluster, or an operator action that moves the primary. Idempotent: a retried step finds it written and changes nothing). */
  async recordEpoch(record: EpochRecord): Promise<void> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            PK: keys.clusterPk(record.clusterId),
            SK: keys.epochSk(record.epoch),
            type: 'epoch',
            ...record,
          },
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  /** Every recorded epoch of the cluster, oldest first. */
  async epochs(clusterId: string): Promise<EpochRecord[]> {
    const items = await allItems(
      queryPages(this.client, {
        TableName: this.tableName,
        KeyConditionExpression: 'PK = :pk AND begins_with(SK, :epoch)',
        ExpressionAttributeValues: { ':pk': keys.clusterPk(clusterId), ':epoch': keys.epochPrefix },
      }),
    );
    return items.map(({ PK: _pk, SK: _sk, type: _type, ...rest }) => rest as unknown as EpochRecord);
  }
}
