/**
 * The replica rules (docs/DESIGN.md §4): from one report's applied and received positions, the source
 * heads and the previous state, whether the replica progresses, is STALLED or LAGGING (pure).
 */
import type { DetectionContext } from './detect';
import type { NodeState } from './node-state';
import type { Engine, Position } from './position';
import { comparePositions, positionDistance } from './position-comparison';
import { parsePosition } from './position-parsing';
import type { Heartbeat } from './wire';

export interface Verdict {
  status: 'HEALTHY' | 'LAGGING' | 'STALLED';
  reason: string;
}

interface ReplicaEvaluation {
  verdict: Verdict;
  fields: Pick<
    NodeState,
    'appliedPosition' | 'receivedPosition' | 'sourcePosition' | 'lagSeconds' | 'lagUnits' | 'lastProgressAt'
  >;
}

function parseOptional(engine: Engine, raw: string | undefined): Position | undefined {
  if (raw === undefined) return undefined;
  try {
    return parsePosition(engine, raw);
  } catch {
    // Stored or head positions in another format than this node's (e.g. binlog vs GTID) are not comparable.
    return undefined;
  }
}

function formatSeconds(ms: number): string {
  return `${Math.round(ms / 100) / 10}s`;
}

/**
 * The replica rules (docs/DESIGN.md §4) for one observation at time `at`:
 * - progress: the applied position advanced, or the replica is caught up with every known source head;
 * - STALLED: behind a source head and no progress for `stallAfterSeconds` (an idle source is no stall);
 * - LAGGING: engine-reported lag above `maxLagSeconds`, or distance above `maxLagUnits` when set.
 */
export function evaluateReplica(
  prev: NodeState | undefined,
  hb: Heartbeat,
  at: number,
  ctx: DetectionContext,
): ReplicaEvaluation {
  const replication = hb.replication;
  const engine = hb.engine;
  const applied = parseOptional(engine, replication?.appliedPosition);
  const received = parseOptional(engine, replication?.receivedPosition);
  const reportedLag = replication?.lagSeconds;
  const heads = [received, ...(ctx.sourceHeads ?? []).map((raw) => parseOptional(engine, raw))];

  if (!applied) {
    const lagging = reportedLag !== undefined && reportedLag > ctx.policy.maxLagSeconds;
    return {
      verdict: lagging
        ? { status: 'LAGGING', reason: `reported lag ${reportedLag}s exceeds ${ctx.policy.maxLagSeconds}s` }
        : { status: 'HEALTHY', reason: 'replica reports no applied position; judged by reported lag only' },
      fields: {
        appliedPosition: undefined,
        receivedPosition: replication?.receivedPosition,
        sourcePosition: prev?.sourcePosition,
        lagSeconds: reportedLag,
        lagUnits: undefined,
        lastProgressAt: at,
      },
    };
  }

  const prevApplied = parseOptional(engine, prev?.appliedPosition);
  // No previous position, or one that cannot be compared (a new Redis replication id after a promotion,
  // a switch from binlog coordinates to GTIDs): the new position is a fresh baseline, which counts as progress.
  const order = prevApplied ? comparePositions(applied, prevApplied) : undefined;
  const advanced = order === undefined || order > 0;

  let source: Position | undefined;
  let lagUnits: number | undefined = 0;
  for (const head of heads) {
    if (!head) continue;
    const cmp = comparePositions(head, applied);
    if (cmp === undefined || cmp <= 0) continue;
    const distance = positionDistance(head, applied);
    if (!source || (comparePositions(head, source) ?? 0) > 0) source = head;
    if (lagUnits !== undefined) lagUnits = distance === undefined ? undefined : Math.max(lagUnits, distance);
  }
  const behind = source !== undefined;
  const caughtUp = !behind;
  const lastProgressAt = advanced || caughtUp ? at : (prev?.lastProgressAt ?? at);
  const lagSeconds = reportedLag ?? (caughtUp ? 0 : undefined);
  const fields = {
    appliedPosition: applied.raw,
    receivedPosition: replication?.receivedPosition,
    sourcePosition: source?.raw ?? applied.raw,
    lagSeconds,
    lagUnits,
    lastProgressAt,
  };

  const stuckFor = at - lastProgressAt;
  if (behind && stuckFor >= ctx.policy.stallAfterSeconds * 1000) {
    const paused = replication?.paused ? ' (replay is paused)' : '';
    const link = replication?.linkUp === false ? ' (replication link down)' : '';
    return {
      verdict: {
        status: 'STALLED',
        reason: `applied position ${applied.raw} has not advanced for ${formatSeconds(stuckFor)} while the source is at ${source?.raw}${paused}${link}`,
      },
      fields,
    };
  }
  if (reportedLag !== undefined && reportedLag > ctx.policy.maxLagSeconds) {
    return {
      verdict: {
        status: 'LAGGING',
        reason: `reported lag ${reportedLag}s exceeds ${ctx.policy.maxLagSeconds}s`,
      },
      fields,
    };
  }
  const maxUnits = ctx.policy.maxLagUnits;
  if (maxUnits !== undefined && lagUnits !== undefined && lagUnits > maxUnits) {
    return {
      verdict: {
        status: 'LAGGING',
        reason: `behind the source by ${lagUnits} position units (max ${maxUnits})`,
      },
      fields,
    };
  }
  return {
    verdict: {
      status: 'HEALTHY',
      reason: caughtUp ? 'replica is caught up with its source' : 'replica is applying changes',
    },
    fields,
  };
}
