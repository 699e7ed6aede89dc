/** The detection latency of a status change: how long after it became due it was written (pure). */
import type { NodeState } from './node-state';
import type { Policy } from './policy';

/**
 * Detection latency of a status change written at `now`, in ms from the moment it became due:
 * - SILENT / DEAD (the sweep): from the node's deadline (`deadlineAt`, last heartbeat + timeout);
 * - STALLED: from the last progress plus `stallAfterSeconds`;
 * - any other change (a heartbeat showed it): from that heartbeat's observation time.
 * Undefined for a node's first write, which detects nothing.
 */
export function detectionLatencyMs(
  before: Pick<NodeState, 'deadlineAt' | 'lastProgressAt'> | undefined,
  after: Pick<NodeState, 'status' | 'lastHeartbeatAt'>,
  policy: Pick<Policy, 'stallAfterSeconds'>,
  now: number,
): number | undefined {
  if (!before) return undefined;
  const due: number =
    after.status === 'SILENT' || after.status === 'DEAD'
      ? before.deadlineAt
      : after.status === 'STALLED'
        ? before.lastProgressAt + policy.stallAfterSeconds * 1000
        : after.lastHeartbeatAt;
  // A change before its due time (a rescheduled deadline) has no latency to report.
  return due <= now ? now - due : undefined;
}
