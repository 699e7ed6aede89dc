import * as z from 'zod';

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
  /**
   * A replica further behind than this is never promoted automatically. The unit is the engine's:
   * bytes for PostgreSQL (WAL), Redis (replication offset) and MySQL/MariaDB binlog coordinates in one
   * file; transactions for MySQL/MariaDB GTIDs and counter engines. Messages name the unit. 1 MiB is
   * Patroni's `maximum_lag_on_failover` default.
   */
  maxLagOnFailover: 1_048_576,
  /**
   * A replica whose last reported lag exceeds this many seconds is never promoted automatically (checked
   * only when the replica reported a lag: Redis heartbeat age, PostgreSQL replay age, MySQL
   * Seconds_Behind_Master). Equal to the `maxLagSeconds` default on purpose: with default settings a
   * replica reported LAGGING never passes and a HEALTHY one always does, so the gate adds no second
   * notion of "too far behind". It catches what the byte gate misses: a replica whose apply stopped
   * minutes ago on a low-volume stream is few bytes but many seconds behind.
   */
  maxLagSecondsOnFailover: 30,
  /**
   * Whether a replica whose distance behind cannot be measured (positions in different binlog files,
   * GTID sets that each hold transactions the other lacks, different Redis replication ids, no known
   * position to compare with) may still be promoted. Off: such a failover pages instead.
   */
  promoteOnUnmeasurableLag: false,
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
    maxLagSecondsOnFailover: z.number().nonnegative().finite(),
    promoteOnUnmeasurableLag: z.boolean(),
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
  readonly maxLagSecondsOnFailover: number;
  readonly promoteOnUnmeasurableLag: boolean;
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
