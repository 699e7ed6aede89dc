import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { CLUSTER_MODES } from '../core/config/schema';
import { type ClusterMode, executionNameFor, type RunbookName } from '../core/incidents';
import type { NodeState } from '../core/node-state';
import type { Policy } from '../core/policy';
import { clusterIdsInTable } from './cluster-config-store';
import { DynamoNodeStateStore } from './node-state-store';
import { queryPages } from './paginate';
import { keys, TABLE } from './table-definition';

/** The runbook run holding the cluster lock (docs/FAILOVER.md "Blocks re-arm instead of dropping"). */
export interface ClusterLockHolder {
  readonly incidentId: string;
  /** The Step Functions execution name of its run (the incident id, `-rN` for a reopened incident). */
  readonly execution: string;
  readonly runbook?: RunbookName;
  /** When it took the lock (epoch ms). */
  readonly since?: number;
}

/** Automation paused on the cluster by an operator (read from the cluster item when it says so). */
export interface ClusterPause {
  readonly by?: string;
  readonly reason?: string;
  readonly since?: number;
}

/** What `status` shows of one cluster: the cluster item's header fields, its open incidents and its nodes. */
export interface ClusterStatusRecord {
  readonly clusterId: string;
  /** Whether the cluster item (META) exists: false for a cluster known only from its nodes' reports. */
  readonly configured: boolean;
  readonly mode: ClusterMode;
  readonly epoch: number;
  readonly primaryNodeId?: string;
  readonly lock?: ClusterLockHolder;
  readonly paused?: ClusterPause;
  readonly maintenance?: { readonly until: number; readonly by?: string; readonly reason?: string };
  /** Incidents in state OPEN. */
  readonly openIncidents: number;
  readonly policy: Policy;
  /** Sorted by node id. */
  readonly nodes: readonly NodeState[];
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const time = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);

/** Defined fields only (the records are printed as JSON). */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * A pause on the cluster item, read defensively: `paused: true` with `pausedBy`/`pausedReason`/`pausedAt`,
 * or `paused: { by, reason, at }`. Anything else is no pause.
 */
function pauseOf(item: Record<string, unknown>): ClusterPause | undefined {
  const paused = item.paused;
  if (paused === true)
    return defined({
      by: text(item.pausedBy),
      reason: text(item.pausedReason),
      since: time(item.pausedAt) ?? time(item.pausedSince),
    });
  if (typeof paused === 'object' && paused !== null) {
    const p = paused as Record<string, unknown>;
    return defined({ by: text(p.by), reason: text(p.reason), since: time(p.at) ?? time(p.since) });
  }
  return undefined;
}

/**
 * Reads what `status` shows, through the node-state store and the table's key builders (docs/DESIGN.md §3):
 * per cluster one GetItem of the cluster item, the store's paginated read of the node items, and one
 * paginated Query of the incident items' state (open ones counted, the lock holder's run named).
 */
export class ClusterStatusReader {
  private readonly store: DynamoNodeStateStore;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {
    this.store = new DynamoNodeStateStore(client, tableName);
  }

  /** Every cluster with a cluster item or a node item (a paginated Scan of the keys), sorted. */
  clusterIds(): Promise<string[]> {
    return clusterIdsInTable(this.client, this.tableName);
  }

  /** One cluster, or undefined when the table holds neither its cluster item nor any of its nodes. */
  async read(clusterId: string): Promise<ClusterStatusRecord | undefined> {
    const [{ Item }, snapshot] = await Promise.all([
      this.client.send(
        new GetCommand({
          TableName: this.tableName,
          Key: { PK: keys.clusterPk(clusterId), SK: keys.clusterMetaSk },
          ConsistentRead: true,
        }),
      ),
      this.store.loadCluster(clusterId),
    ]);
    if (!Item && snapshot.nodes.size === 0) return undefined;
    const item = Item ?? {};
    const incidents = await this.incidentStates(clusterId, snapshot.lockIncidentId);
    const mode = (CLUSTER_MODES as readonly unknown[]).includes(item.mode)
      ? (item.mode as ClusterMode)
      : 'auto';
    const lockId = snapshot.lockIncidentId;
    const holder = incidents.find((i) => i.incidentId === lockId);
    const runbook = text(item.lockRunbook) as RunbookName | undefined;
    const until = time(item.maintenanceUntil);
    return defined({
      clusterId,
      configured: Item !== undefined,
      mode,
      epoch: snapshot.epoch,
      primaryNodeId: snapshot.primaryNodeId,
      lock:
        lockId === undefined
          ? undefined
          : defined({
              incidentId: lockId,
              execution: holder ? executionNameFor(holder) : lockId,
              runbook,
              since: time(item.lockSince),
            }),
      paused: pauseOf(item),
      maintenance:
        until === undefined
          ? undefined
          : defined({ until, by: text(item.maintenanceBy), reason: text(item.maintenanceReason) }),
      openIncidents: incidents.filter((i) => i.state === 'OPEN').length,
      policy: snapshot.policy,
      nodes: [...snapshot.nodes.values()].sort((a, b) => a.nodeId.localeCompare(b.nodeId)),
    });
  }

  /** The open incidents and the lock holder's (whatever its state), projected to what is shown. */
  private async incidentStates(
    clusterId: string,
    lockIncidentId: string | undefined,
  ): Promise<{ incidentId: string; state: string; flaps: number }[]> {
    const found: { incidentId: string; state: string; flaps: number }[] = [];
    const pages = queryPages(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :incident)',
      FilterExpression: lockIncidentId === undefined ? '#state = :open' : '#state = :open OR #id = :lock',
      ProjectionExpression: '#id, #state, #flaps',
      ExpressionAttributeNames: {
        '#pk': TABLE.partitionKey,
        '#sk': TABLE.sortKey,
        '#id': 'incidentId',
        '#state': 'state',
        '#flaps': 'flaps',
      },
      ExpressionAttributeValues: {
        ':pk': keys.clusterPk(clusterId),
        ':incident': keys.incidentPrefix,
        ':open': 'OPEN',
        ':lock': lockIncidentId,
      },
      ConsistentRead: true,
    });
    for await (const page of pages) {
      for (const item of page.Items ?? [])
        found.push({
          incidentId: String(item.incidentId),
          state: String(item.state),
          flaps: typeof item.flaps === 'number' ? item.flaps : 0,
        });
    }
    return found;
  }
}
