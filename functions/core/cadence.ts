/**
 * One cadence knob: the clusters' policy (issue 13, finding 8). A cluster's nodes are probed every
 * `heartbeatIntervalSeconds` (by `watch`, unless `--interval` says otherwise), and the sweep looks for
 * silent nodes every third of the smallest `heartbeatTimeoutSeconds` (at least 1 s, at most 60 s), so that
 * a node that stops reporting is found within its timeout plus one sweep period (docs/SIZING.md "The sweep
 * index"), at most 4/3 of the timeout.
 *
 * Pure: policies in, seconds out.
 */
import { DEFAULT_POLICY, type Policy } from './policy';

/** Sweeps per smallest heartbeat timeout. */
export const SWEEPS_PER_TIMEOUT = 3;
export const MIN_SWEEP_INTERVAL_SECONDS = 1;
export const MAX_SWEEP_INTERVAL_SECONDS = 60;

/** Seconds between two sweeps for clusters with these policies (the default policy when there are none). */
export function sweepIntervalSeconds(policies: readonly Pick<Policy, 'heartbeatTimeoutSeconds'>[]): number {
  const timeout = Math.min(
    ...(policies.length === 0 ? [DEFAULT_POLICY] : policies).map((p) => p.heartbeatTimeoutSeconds),
  );
  return Math.min(
    MAX_SWEEP_INTERVAL_SECONDS,
    Math.max(MIN_SWEEP_INTERVAL_SECONDS, Math.floor(timeout / SWEEPS_PER_TIMEOUT)),
  );
}

/**
 * Why a sweep every `intervalSeconds` is too slow for a policy, or `undefined`: the sweep must run at least
 * twice per heartbeat timeout, or a silent node is found up to one and a half timeouts late.
 */
export function sweepIntervalProblem(
  intervalSeconds: number,
  heartbeatTimeoutSeconds: number,
): string | undefined {
  if (intervalSeconds * 2 <= heartbeatTimeoutSeconds) return undefined;
  return (
    `heartbeatTimeoutSeconds (${heartbeatTimeoutSeconds}) needs a silence sweep at least every ` +
    `${heartbeatTimeoutSeconds / 2} s, and the sweep runs every ${intervalSeconds} s`
  );
}
