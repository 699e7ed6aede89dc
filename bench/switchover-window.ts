/** The figures of one switchover run of `npm run bench -- switchover`, from the writer's record (pure). */
import type { WriterRecord } from './switchover-writer';

/** One run of one contender. */
export interface SwitchoverRun {
  readonly windowMs: number;
  readonly lost: number;
  readonly acked: number;
  /** How the window was found: `failed` (first failed write) or `held` (the write held longest). */
  readonly from: 'failed' | 'held';
}

/**
 * The write-unavailability window and the writes lost, from the writer's record: `startedAt` is when the
 * switchover was asked, `newPrimaryPort` the port of the node that took over, `present` the acknowledged
 * writes found on it at the end.
 */
export function measureRun(
  record: WriterRecord,
  startedAt: number,
  newPrimaryPort: number,
  present: ReadonlySet<number>,
): SwitchoverRun {
  const firstFailed = record.failed.find(([, , failedAt]) => failedAt >= startedAt);
  const firstNew = record.acked.find(
    ([, sentAt, ackedAt, port]) =>
      port === newPrimaryPort &&
      ackedAt >= startedAt &&
      (firstFailed === undefined || sentAt >= firstFailed[1]),
  );
  if (firstNew === undefined) throw new Error('no write was acknowledged by the new primary');
  let windowMs: number;
  let from: SwitchoverRun['from'];
  if (firstFailed !== undefined) {
    windowMs = firstNew[2] - firstFailed[1];
    from = 'failed';
  } else {
    // Nothing refused: the window is the longest a write waited (held, e.g. CLIENT PAUSE) up to the new primary.
    windowMs = Math.max(
      0,
      ...record.acked.filter(([, , at]) => at >= startedAt && at <= firstNew[2]).map(([, s, a]) => a - s),
    );
    from = 'held';
  }
  const lost = record.acked.filter(([seq]) => !present.has(seq)).length;
  return { windowMs, lost, acked: record.acked.length, from };
}
