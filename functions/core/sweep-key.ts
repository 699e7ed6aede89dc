/**
 * The sweep index's sort key (docs/SIZING.md "The sweep index"). A node's exact deadline (`deadlineAt`,
 * last heartbeat + timeout) moves with every heartbeat; keying the index by it made DynamoDB delete and
 * re-insert the node's index entry on every heartbeat (2 of the 3 write units a heartbeat cost). The index
 * is keyed instead by `sweepAt`, the start of the bucket the deadline falls in: it moves only when the
 * deadline crosses into the next bucket (once a day for a reporting node), and it is never after the
 * deadline, so a query for `sweepAt <= now` returns every overdue node (and the reporting ones whose
 * bucket has begun). The sweep then reads the exact deadline of those candidates consistently.
 *
 * Each node's buckets are shifted by an offset taken from its id, so that a fleet's entries do not all move
 * at the same moment of the day (a burst of index writes on one partition).
 *
 * Pure: numbers in, numbers out.
 */

/** Width of a bucket: a reporting node's index entry moves once per this period. */
export const SWEEP_BUCKET_MS = 86_400_000;

/** The start of the bucket `deadlineAt` falls in, for buckets shifted by `offsetMs`; never after `deadlineAt`. */
export function sweepKeyOf(deadlineAt: number, offsetMs: number, bucketMs = SWEEP_BUCKET_MS): number {
  return Math.floor((deadlineAt - offsetMs) / bucketMs) * bucketMs + offsetMs;
}
