import type { NodeFailoverConfig } from './candidate';
import type { ClusterHooks, NodeEndpoint } from './hooks';
import type { ClusterMode, RunbookName } from './incidents';
import type { Policy } from './policy';

/**
 * How a failover may pass Fence when the old primary cannot be asked (timed out, no route, frozen):
 * `strict` only through a `fenceUnreachable` hook that succeeded (else the run is refused and pages);
 * `trust-quorum` accepts the quorum's DEAD verdict, Redis Sentinel's model (the old primary may still take
 * writes from clients that reach it until it is demoted when it returns).
 */
export type FencingMode = 'strict' | 'trust-quorum';

/** The recovery-related part of a cluster item (`CLUSTER#<id>` / `META`). */
export interface ClusterRecoveryState {
  readonly mode: ClusterMode;
  readonly policy: Policy;
  /** The fencing token: incremented exactly once per failover, before anything is promoted. */
  readonly epoch: number;
  readonly primaryNodeId?: string;
  /** The incident whose runbook holds the cluster lock, since when, and which runbook it is. */
  readonly lockIncidentId?: string;
  readonly lockSince?: number;
  readonly lockRunbook?: RunbookName;
  /** The incident whose failover moved the epoch last. */
  readonly epochIncidentId?: string;
  /**
   * The candidate that incident moved the epoch for, written in the same conditional update as the epoch:
   * the only node its failover may promote (Promote and a resumed run use it, not the incident's plan).
   */
  readonly epochCandidate?: string;
  /** @default 'strict' */
  readonly fencing: FencingMode;
  readonly lastRecoveryAt?: number;
  readonly maintenanceUntil?: number;
  readonly maintenanceBy?: string;
  readonly maintenanceReason?: string;
  /** Set by `pause` (an operator): runbooks do not take the lock until `resume`; who, why, since when. */
  readonly pausedBy?: string;
  readonly pausedReason?: string;
  readonly pausedAt?: number;
  /** How to reach each node, and its failover settings (from the cluster configuration). */
  readonly nodes: readonly (NodeEndpoint & NodeFailoverConfig)[];
  readonly hooks: ClusterHooks;
  /** Slack user ids allowed to press Approve/Reject for this cluster (else the stack-wide list). */
  readonly slackAllowedUserIds?: readonly string[];
  /** How long an approval may wait. @default 900 */
  readonly approvalTimeoutSeconds: number;
}

export const DEFAULT_APPROVAL_TIMEOUT_SECONDS = 900;

/**
 * What an operator's request lifts, the request being the decision: a manual failover
 * (functions/core/manual-failover.ts) is not held by a pause, and with `force` not by the failover cooldown
 * either (maintenance and another failover's lock still hold it); a rejoin or rebuild of one node
 * (functions/core/rejoin.ts) is held by neither a pause nor maintenance.
 */
export interface LockRequest {
  readonly ignorePause?: boolean;
  readonly ignoreMaintenance?: boolean;
  readonly ignoreCooldown?: boolean;
}

export type LockVerdict =
  | { readonly ok: true }
  /** `until`: when the block ends by itself (cooldown, maintenance); absent when another run holds the lock. */
  | { readonly ok: false; readonly reason: string; readonly until?: number };

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Whether a runbook of `incidentId` may take the cluster lock now (pure). The store takes it with one
 * conditional write expressing the same rules, so concurrent runs cannot both pass; this function says why
 * a run was blocked, and until when. Re-taking a lock the same incident already holds is allowed (retries).
 * - maintenance blocks every runbook until it ends;
 * - a pause (`pause` by an operator) blocks every runbook until `resume`: the run re-arms and looks again,
 *   so a dead primary's failover waits, never dropped;
 * - an operator's request lifts what its `LockRequest` says: a manual failover is not held by a pause, a
 *   rejoin or rebuild by neither a pause nor maintenance (the operator decided);
 * - a failover preempts a replica recovery (a replica restart must never hold what a failover needs); any
 *   other holder blocks;
 * - the cooldown (`recoveryBlockSeconds` after the last failover) blocks failovers and switchovers only: demoting a returning
 *   old primary or repointing a replica right after a failover is exactly what must not wait.
 */
export function lockVerdict(
  cluster: ClusterRecoveryState,
  incidentId: string,
  now: number,
  runbook: RunbookName = 'primary-failover',
  request: LockRequest = {},
): LockVerdict {
  if (
    !request.ignoreMaintenance &&
    cluster.maintenanceUntil !== undefined &&
    cluster.maintenanceUntil > now
  ) {
    return {
      ok: false,
      until: cluster.maintenanceUntil,
      reason: `cluster in maintenance until ${iso(cluster.maintenanceUntil)} (by ${cluster.maintenanceBy ?? 'unknown'}: ${cluster.maintenanceReason ?? 'no reason'})`,
    };
  }
  if (cluster.pausedBy !== undefined && !request.ignorePause) {
    return {
      ok: false,
      reason: `automation paused by ${cluster.pausedBy}: ${cluster.pausedReason ?? 'no reason'} (since ${iso(cluster.pausedAt ?? 0)}; resume ends it)`,
    };
  }
  const held = cluster.lockIncidentId !== undefined && cluster.lockIncidentId !== incidentId;
  const preempts = runbook === 'primary-failover' && cluster.lockRunbook === 'replica-recovery';
  if (held && !preempts) {
    return {
      ok: false,
      reason: `another recovery holds the cluster lock: incident ${cluster.lockIncidentId} (${cluster.lockRunbook ?? 'runbook'}) since ${iso(cluster.lockSince ?? 0)}`,
    };
  }
  const cooldownEnds =
    (cluster.lastRecoveryAt ?? Number.NEGATIVE_INFINITY) + cluster.policy.recoveryBlockSeconds * 1000;
  if (
    runbook !== 'replica-recovery' &&
    !request.ignoreCooldown &&
    cluster.lockIncidentId !== incidentId &&
    cooldownEnds > now
  ) {
    return {
      ok: false,
      until: cooldownEnds,
      reason: `cooldown until ${iso(cooldownEnds)}: the last failover finished at ${iso(cluster.lastRecoveryAt ?? 0)} (recoveryBlockSeconds ${cluster.policy.recoveryBlockSeconds})`,
    };
  }
  return { ok: true };
}

/** Longest single Rearm wait: a long block is looked at again at least this often. */
export const MAX_REARM_SECONDS = 3600;

/**
 * Seconds a blocked run waits before it looks again (pure): until the block ends when it has an end
 * (cooldown, maintenance; one second after it, at most {@link MAX_REARM_SECONDS}), else two heartbeat
 * intervals (another run holds the lock: it ends or fails soon), never less than 2 s.
 */
export function rearmSeconds(verdict: LockVerdict, policy: Policy, now: number): number {
  const fallback = Math.max(2, Math.ceil(2 * policy.heartbeatIntervalSeconds));
  if (verdict.ok || verdict.until === undefined) return fallback;
  return Math.min(MAX_REARM_SECONDS, Math.max(2, Math.ceil((verdict.until - now) / 1000) + 1));
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
