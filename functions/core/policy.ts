import { z } from 'zod';

/**
 * Per-cluster policy: every field optional in configuration, every default documented here and
 * only here (README's configuration reference is generated from the same table of defaults).
 */
export const POLICY_DEFAULTS = {
  /** How often nodes are expected to report. Informational; the timeout below is what detection uses. */
  heartbeatIntervalSeconds: 10,
  /** No heartbeat for this long: the node is SILENT (found by the sweeper). */
  heartbeatTimeoutSeconds: 30,
  /** A replica behind its source whose applied position has not moved for this long is STALLED. */
  stallAfterSeconds: 60,
  /** A replica whose reported lag exceeds this is LAGGING (while it still advances). */
  maxLagSeconds: 30,
  /** A replica further behind than this, in the engine's position units, is never promoted. */
  maxLagOnFailover: 1_048_576,
  /** Independent views that must confirm a silent primary before it is declared DEAD. */
  quorum: 2,
  /** Consecutive good heartbeats needed to go back to HEALTHY from any bad status. */
  healthyStreak: 3,
  /** After a failover, no automatic failover or recovery of the same cluster for this long (a replica restart does not start it). */
  recoveryBlockSeconds: 3600,
  /** A node that turns bad again this soon after its incident resolved reopens it (flapping), no new one. */
  incidentCooldownSeconds: 900,
} as const;

const positiveSeconds = z.number().positive().finite();
const positiveInt = z.number().int().positive();

/** Policy as users write it (cluster config file, cluster item `policy`): every field optional. */
export const PolicyOverridesSchema = z
  .object({
    heartbeatIntervalSeconds: positiveSeconds,
    heartbeatTimeoutSeconds: positiveSeconds,
    stallAfterSeconds: positiveSeconds,
    maxLagSeconds: positiveSeconds,
    maxLagOnFailover: z.number().nonnegative().finite(),
    /**
     * Optional lag threshold in position units (bytes of WAL, offsets, transactions). No default:
     * when unset, LAGGING is judged by seconds only.
     */
    maxLagUnits: z.number().positive().finite(),
    quorum: positiveInt,
    healthyStreak: positiveInt,
    recoveryBlockSeconds: z.number().nonnegative().finite(),
    incidentCooldownSeconds: z.number().nonnegative().finite(),
  })
  .partial()
  .strict()
  .superRefine((overrides, ctx) => {
    // Checked on the merged policy: overriding one of the pair must still leave them in order.
    const merged = resolvePolicy(overrides);
    const { heartbeatTimeoutSeconds: timeout, heartbeatIntervalSeconds: interval } = merged;
    if (!(timeout > 0 && interval > 0)) return; // already reported as out of range
    if (timeout <= interval) {
      ctx.addIssue({
        code: 'custom',
        path: ['heartbeatTimeoutSeconds'],
        message: `must be greater than heartbeatIntervalSeconds (${merged.heartbeatIntervalSeconds}), or every node would be silent between two heartbeats`,
      });
    }
  });

export type PolicyOverrides = {
  -readonly [K in keyof Policy]?: Policy[K];
};

export interface Policy {
  readonly heartbeatIntervalSeconds: number;
  readonly heartbeatTimeoutSeconds: number;
  readonly stallAfterSeconds: number;
  readonly maxLagSeconds: number;
  readonly maxLagOnFailover: number;
  readonly maxLagUnits?: number;
  readonly quorum: number;
  readonly healthyStreak: number;
  readonly recoveryBlockSeconds: number;
  readonly incidentCooldownSeconds: number;
}

/** Defaults with the cluster's overrides on top. */
export function resolvePolicy(overrides: PolicyOverrides = {}): Policy {
  const merged: Policy = { ...POLICY_DEFAULTS };
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) Object.assign(merged, { [key]: value });
  }
  return merged;
}

export const DEFAULT_POLICY: Policy = resolvePolicy();
