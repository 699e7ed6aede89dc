import type { Policy } from './policy';

/**
 * When a node next counts as silent: the `deadlineAt` every write of a node sets. It keys the sweep index
 * (through `sweepAt`, core/sweep-key.ts), and a sweep at or after it looks at the node (core/silence.ts).
 * The rule is written here only: ingestion (core/detect.ts), the sweep and maintenance call these.
 * Pure: time comes in as an argument.
 */

/**
 * A silent node that needs no more sweeping keeps this deadline: it stays in the sweep index (so the
 * next heartbeat's write simply moves it) but is never overdue again.
 */
export const NEVER = 8_640_000_000_000_000;

/** A node that reported at `at`: silent once the heartbeat timeout passes without another report. */
export function deadlineAfterReport(at: number, policy: Policy): number {
  return at + policy.heartbeatTimeoutSeconds * 1000;
}

/** A node first heard of from an observer that could not reach it (at `at`): overdue already. */
export function deadlineOfUnreachedNode(at: number): number {
  return at;
}

/** A primary the sweep found silent but not dead: swept again one heartbeat interval later (new views count). */
export function deadlineOfSilentPrimary(now: number, policy: Policy): number {
  return now + policy.heartbeatIntervalSeconds * 1000;
}

/** A node in maintenance: looked at again when the window ends (a window without an end: never). */
export function deadlineInMaintenance(until: number | undefined): number {
  return until ?? NEVER;
}

/** A node whose maintenance an operator ended at `now`: overdue right after, unless its deadline is sooner. */
export function deadlineAfterMaintenance(deadlineAt: number, now: number): number {
  return Math.min(deadlineAt, now + 1);
}
