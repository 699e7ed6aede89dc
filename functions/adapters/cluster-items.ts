/**
 * A configuration file as the table stores it: the fields of each cluster's META item (`CLUSTER#<id>` /
 * `META`) that the configuration owns, and the runtime fields it never writes.
 */

import type { NodeFailoverConfig } from '../core/candidate';
import type { ClusterConfig } from '../core/config/schema';
import type { ClusterHooks, NodeEndpoint } from '../core/hooks';
import type { ClusterMode } from '../core/incidents';
import type { PolicyOverrides } from '../core/policy';
import type { Engine } from '../core/position';
import type { FencingMode } from '../core/recovery';

/** What a cluster's META item (`CLUSTER#<id>` / `META`) holds from the configuration file. */
export interface ClusterItemConfig {
  readonly clusterId: string;
  readonly engine: Engine;
  readonly mode: ClusterMode;
  /** Read by the failover runbook's Fence step; an item without it is {@link DEFAULT_FENCING}. */
  readonly fencing: FencingMode;
  /** The overrides as written; defaults are resolved when read (so a new default reaches old items). */
  readonly policy: PolicyOverrides;
  readonly nodes: readonly (NodeEndpoint & NodeFailoverConfig)[];
  readonly hooks: ClusterHooks;
  readonly approvalTimeoutSeconds: number;
  readonly credentialsSecretArn?: string;
  readonly slackAllowedUserIds?: readonly string[];
}

/** The META attributes the configuration owns: applying a file sets these (and removes absent ones). */
export const CONFIG_OWNED_FIELDS = [
  'clusterId',
  'engine',
  'mode',
  'fencing',
  'policy',
  'nodes',
  'hooks',
  'approvalTimeoutSeconds',
  'credentialsSecretArn',
  'slackAllowedUserIds',
] as const satisfies readonly (keyof ClusterItemConfig)[];

/** META attributes the runbooks and the CLI maintain: a configuration never writes them. */
export const RUNTIME_FIELDS = [
  'epoch',
  'epochIncidentId',
  'epochCandidate',
  'fencedNodeId',
  'primaryNodeId',
  'lockIncidentId',
  'lockSince',
  'lastRecoveryAt',
  'activeIncidentId',
  'maintenanceUntil',
  'maintenanceBy',
  'maintenanceReason',
  'maintenanceLog',
  'pausedBy',
  'pausedReason',
  'pausedAt',
  'operatorLog',
] as const;

/** Per cluster, the fields of its META item that the configuration owns (never the runtime fields). */
export function toClusterItems(config: ClusterConfig): ClusterItemConfig[] {
  return config.clusters.map((cluster) => ({
    clusterId: cluster.id,
    engine: cluster.engine,
    mode: cluster.mode,
    fencing: cluster.fencing,
    policy: { ...cluster.policy },
    nodes: cluster.nodes.map((node) => ({
      nodeId: node.id,
      url: node.url,
      priority: node.priority,
      noPromote: node.noPromote,
    })),
    hooks: Object.fromEntries(
      Object.entries(cluster.hooks).filter(([, spec]) => spec !== undefined),
    ) as ClusterHooks,
    approvalTimeoutSeconds: cluster.approvalTimeoutSeconds,
    credentialsSecretArn: cluster.credentialsSecretArn,
    ...(cluster.slackAllowedUserIds === undefined
      ? {}
      : { slackAllowedUserIds: [...cluster.slackAllowedUserIds] }),
  }));
}
