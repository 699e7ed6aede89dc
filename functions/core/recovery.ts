import type { NodeFailoverConfig } from './candidate';
import type { ClusterHooks, NodeEndpoint } from './hooks';
import type { ClusterMode } from './incidents';
import type { Policy } from './policy';

/** The recovery-related part of a cluster item (`CLUSTER#<id>` / `META`). */
export interface ClusterRecoveryState {
  readonly mode: ClusterMode;
  readonly policy: Policy;
  /** The fencing token: incremented exactly once per failover, before anything is promoted. */
  readonly epoch: number;
  readonly primaryNodeId?: string;
  /** The incident whose runbook holds the cluster lock, and since when. */
  readonly lockIncidentId?: string;
  readonly lockSince?: number;
  readonly lastRecoveryAt?: number;
  readonly maintenanceUntil?: number;
  readonly maintenanceBy?: string;
  readonly maintenanceReason?: string;
  /** How to reach each node, and its failover settings (from the cluster configuration). */
  readonly nodes: readonly (NodeEndpoint & NodeFailoverConfig)[];
  readonly hooks: ClusterHooks;
  /** How long an approval may wait. @default 900 */
  readonly approvalTimeoutSeconds: number;
}

export const DEFAULT_APPROVAL_TIMEOUT_SECONDS = 900;

export type LockVerdict = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Whether a runbook of `incidentId` may take the cluster lock now (pure). The store takes it with one
 * conditional write expressing the same three rules, so concurrent runs cannot both pass; this function
 * says why a run was blocked. Re-taking a lock the same incident already holds is allowed (retries).
 */
export function lockVerdict(cluster: ClusterRecoveryState, incidentId: string, now: number): LockVerdict {
  if (cluster.maintenanceUntil !== undefined && cluster.maintenanceUntil > now) {
    return {
      ok: false,
      reason: `cluster in maintenance until ${iso(cluster.maintenanceUntil)} (by ${cluster.maintenanceBy ?? 'unknown'}: ${cluster.maintenanceReason ?? 'no reason'})`,
    };
  }
  if (cluster.lockIncidentId !== undefined && cluster.lockIncidentId !== incidentId) {
    return {
      ok: false,
      reason: `another recovery holds the cluster lock: incident ${cluster.lockIncidentId} since ${iso(cluster.lockSince ?? 0)}`,
    };
  }
  const cooldownEnds =
    (cluster.lastRecoveryAt ?? Number.NEGATIVE_INFINITY) + cluster.policy.recoveryBlockSeconds * 1000;
  if (cluster.lockIncidentId !== incidentId && cooldownEnds > now) {
    return {
      ok: false,
      reason: `cooldown: the last recovery finished at ${iso(cluster.lastRecoveryAt ?? 0)}; no automatic recovery before ${iso(cooldownEnds)} (recoveryBlockSeconds ${cluster.policy.recoveryBlockSeconds})`,
    };
  }
  return { ok: true };
}

/** Refuses work ordered under an older fencing token: a run that lost the race cannot act. */
export function assertEpoch(current: number, expected: number | undefined): void {
  if (expected === undefined || current !== expected) {
    throw new StaleEpochError(
      `fencing token is ${current}, this run holds ${expected ?? 'none'}: it must not act`,
    );
  }
}

export class StaleEpochError extends Error {
  override readonly name = 'StaleEpochError';
}
