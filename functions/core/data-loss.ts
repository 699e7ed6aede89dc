import type { NodeState } from './node-state';
import type { Engine, Position } from './position';
import { comparePositions, positionDistance } from './position-comparison';
import { parsePosition } from './position-parsing';

/**
 * Restart-empty detection (issue 11 item 8). A primary's write position only moves forward while it stays
 * primary. When a report of the same primary shows it behind what it had reported before, the node came
 * back with less data than it had: a restart without persistence (Redis: a new replication id, offset
 * near 0), a restart from an older snapshot, a restore from backup. Replicas that resync to it lose the
 * difference too.
 */
export interface PositionRegression {
  readonly previous: string;
  readonly current: string;
  /** The node started a new replication history (Redis: another replication id): offsets are not comparable. */
  readonly newHistory: boolean;
  /** How much of the previous history is gone, in the engine's units, when measurable in one history. */
  readonly lost?: number;
  /** After a new history, when both reports counted the data set (wire `datasetKeys`): it shrank. */
  readonly keys?: DatasetShrink;
}

/** The data set's key count at the two reports; `previous - current` keys are gone. */
export interface DatasetShrink {
  readonly previous: number;
  readonly current: number;
}

/** The key counts the two reports carried (wire `datasetKeys`), each absent when not reported. */
export interface DatasetCounts {
  readonly previous?: number | undefined;
  readonly current?: number | undefined;
}

function parse(engine: Engine, raw: string): Position | undefined {
  try {
    return parsePosition(engine, raw);
  } catch {
    return undefined;
  }
}

/**
 * Whether `current` is a regression from `previous`, two reports of the same primary (pure):
 * - Redis under another replication id (both known): a regression when the offset was reset below the
 *   previous one (a promotion also changes the id, but keeps counting from the old offset). A reset alone
 *   does not say the data is gone: a primary restarted from its append-only file also comes back under a
 *   new id at offset 0, with everything. So when both reports counted the data set (`counts`), it is a
 *   regression only if the count shrank; a count as large or larger is a restart with the data, and its
 *   position the new baseline. Without both counts (other probes, older heartbeats) the reset decides;
 * - any position comparable with the previous one (same Redis id, LSN, counters, GTID sets): a
 *   regression when it is behind;
 * - binlog coordinates are never judged (RESET MASTER renumbers files without losing data), nor are
 *   positions that cannot be compared (diverged GTID sets: another rule's business).
 */
export function positionRegression(
  engine: Engine,
  previousRaw: string,
  currentRaw: string,
  counts: DatasetCounts = {},
): PositionRegression | undefined {
  const previous = parse(engine, previousRaw);
  const current = parse(engine, currentRaw);
  if (!previous || !current || previous.kind === 'binlog') return undefined;
  const p = previous.value;
  const c = current.value;
  if (p.kind === 'redis' && c.kind === 'redis' && p.replid && c.replid && p.replid !== c.replid) {
    if (c.offset >= p.offset) return undefined;
    const reset: PositionRegression = { previous: previousRaw, current: currentRaw, newHistory: true };
    const { previous: before, current: now } = counts;
    if (before === undefined || now === undefined) return reset;
    return now < before ? { ...reset, keys: { previous: before, current: now } } : undefined;
  }
  if (comparePositions(current, previous) !== -1) return undefined;
  const lost = positionDistance(previous, current);
  return {
    previous: previousRaw,
    current: currentRaw,
    newHistory: false,
    lost,
  };
}

/**
 * The replicas that hold data the regressed primary lost: replicas of it (or of no named source) whose
 * applied position is ahead of its new position, or, after a new history, still in the previous one.
 */
export function replicasAhead(
  primaryId: string,
  engine: Engine,
  regression: PositionRegression,
  nodes: Iterable<NodeState>,
): string[] {
  const previous = parse(engine, regression.previous);
  const current = parse(engine, regression.current);
  if (!previous || !current) return [];
  const ahead: string[] = [];
  for (const node of nodes) {
    if (node.nodeId === primaryId || node.role !== 'replica' || node.appliedPosition === undefined) continue;
    if (node.sourceNodeId !== undefined && node.sourceNodeId !== primaryId) continue;
    const applied = parse(engine, node.appliedPosition);
    if (!applied) continue;
    const inOldHistory =
      regression.newHistory &&
      comparePositions(applied, previous) !== undefined &&
      comparePositions(applied, current) === undefined;
    if (inOldHistory || comparePositions(applied, current) === 1)
      ahead.push(`${node.nodeId} at ${node.appliedPosition}`);
  }
  return ahead.sort();
}

const UNITS: Partial<Record<Engine, string>> = {
  postgresql: 'bytes of WAL',
  redis: 'bytes of replication stream',
  mysql: 'transactions',
  mariadb: 'transactions',
};

/**
 * The DATA_LOSS status reason: what was lost and what to do, in the sentence an operator reads first.
 * The status holds until an operator clears it, so the reason says so.
 */
export function describeDataLoss(
  engine: Engine,
  regression: PositionRegression,
  ahead: readonly string[],
): string {
  const keys = regression.keys;
  const what = regression.newHistory
    ? keys
      ? `came back with a new replication history and a smaller data set: position ${regression.current} after ${regression.previous}, ${keys.current} keys instead of ${keys.previous}, ${keys.previous - keys.current} keys lost`
      : `came back with a new replication history: position ${regression.current} after ${regression.previous}; everything of the previous history is missing on it (not measurable across histories)`
    : `came back behind its own last position: ${regression.current} after ${regression.previous}${regression.lost === undefined ? '' : `, ${regression.lost} ${UNITS[engine] ?? 'position units'} lost`}`;
  const replicas =
    ahead.length > 0
      ? `replicas that were ahead and still hold the lost data until they resync: ${ahead.join(', ')}`
      : 'no replica was known to be ahead';
  return (
    `primary ${what}; ${replicas}. ` +
    'DATA_LOSS holds until an operator clears it: stop the replicas that are ahead from resyncing if you can ' +
    '(or copy their data), restore what is missing, then clear the status: replica-sentinel ack INCIDENT ' +
    '--cluster ID --reason TEXT'
  );
}
