import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  endMaintenance,
  enterMaintenance,
  type MaintenanceWindow,
  validateWindow,
} from '../core/maintenance';
import type { NodeStateStore } from './node-state-store';
import { keys } from './table-definition';

export class UnknownNodeError extends Error {
  override readonly name = 'UnknownNodeError';
}

export interface MaintenanceTarget {
  readonly clusterId: string;
  /** A single node; the whole cluster when absent. */
  readonly nodeId?: string;
}

/** One line of the cluster's maintenance log, kept on its META item. */
export interface MaintenanceLogEntry {
  action: 'set' | 'clear';
  nodeId?: string;
  at: number;
  by: string;
  reason: string;
  until?: number;
}

/**
 * Sets and clears maintenance windows (docs/DESIGN.md §4, MAINTENANCE). A cluster window lives on the cluster
 * item and mutes every node's incidents; a node window puts the node in MAINTENANCE. Both are recorded
 * in the cluster item's `maintenanceLog` with who and why.
 */
export class MaintenanceService {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly store: Pick<NodeStateStore, 'loadCluster' | 'putNode'>,
  ) {}

  async set(target: MaintenanceTarget, window: MaintenanceWindow, now: number): Promise<void> {
    validateWindow(window, now);
    if (target.nodeId) {
      await this.updateNode(target.clusterId, target.nodeId, (node) => enterMaintenance(node, window, now));
    } else {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { PK: keys.clusterPk(target.clusterId), SK: keys.clusterMetaSk },
          UpdateExpression: 'SET #u = :u, #b = :b, #r = :r, #t = if_not_exists(#t, :type)',
          ExpressionAttributeNames: {
            '#u': 'maintenanceUntil',
            '#b': 'maintenanceBy',
            '#r': 'maintenanceReason',
            '#t': 'type',
          },
          ExpressionAttributeValues: {
            ':u': window.until,
            ':b': window.by,
            ':r': window.reason,
            ':type': 'cluster',
          },
        }),
      );
    }
    await this.log(target.clusterId, {
      action: 'set',
      at: now,
      by: window.by,
      reason: window.reason,
      until: window.until,
      ...(target.nodeId ? { nodeId: target.nodeId } : {}),
    });
  }

  async clear(target: MaintenanceTarget, by: string, reason: string, now: number): Promise<void> {
    if (target.nodeId) {
      await this.updateNode(target.clusterId, target.nodeId, (node) => endMaintenance(node, by, now));
    } else {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { PK: keys.clusterPk(target.clusterId), SK: keys.clusterMetaSk },
          UpdateExpression: 'REMOVE #u, #b, #r',
          ExpressionAttributeNames: {
            '#u': 'maintenanceUntil',
            '#b': 'maintenanceBy',
            '#r': 'maintenanceReason',
          },
        }),
      );
    }
    await this.log(target.clusterId, {
      action: 'clear',
      at: now,
      by,
      reason,
      ...(target.nodeId ? { nodeId: target.nodeId } : {}),
    });
  }

  private async updateNode(
    clusterId: string,
    nodeId: string,
    change: (node: Parameters<typeof enterMaintenance>[0]) => Parameters<typeof enterMaintenance>[0],
  ): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const snapshot = await this.store.loadCluster(clusterId);
      const node = snapshot.nodes.get(nodeId);
      if (!node) {
        const known = [...snapshot.nodes.keys()].sort().join(', ') || 'none';
        throw new UnknownNodeError(
          `node ${clusterId}/${nodeId} is unknown (nodes of ${clusterId}: ${known})`,
        );
      }
      if ((await this.store.putNode(change(node))) === 'written') return;
    }
    throw new Error(`node ${clusterId}/${nodeId} kept changing; try again`);
  }

  private async log(clusterId: string, entry: MaintenanceLogEntry): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { PK: keys.clusterPk(clusterId), SK: keys.clusterMetaSk },
        UpdateExpression:
          'SET #log = list_append(if_not_exists(#log, :empty), :entry), #t = if_not_exists(#t, :type)',
        ExpressionAttributeNames: { '#log': 'maintenanceLog', '#t': 'type' },
        ExpressionAttributeValues: { ':empty': [], ':entry': [entry], ':type': 'cluster' },
      }),
    );
  }
}
