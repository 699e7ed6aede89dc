/**
 * Applying one heartbeat to a node's state (pure): the status with its hysteresis, and the topology and
 * data-loss rules; the replica rules are in replica-rules.ts, the observers' views in observer-views.ts.
 */
import { describeDataLoss, positionRegression, replicasAhead } from './data-loss';
import { BAD_STATUSES, type NodeState, type NodeStatus, type ObserverView, sweepShardOf } from './node-state';
import { linkDownSince, pruneObservers } from './observer-views';
import type { Policy } from './policy';
import { evaluateReplica, type Verdict } from './replica-rules';
import { deadlineAfterReport, deadlineOfUnreachedNode } from './silence-deadline';
import { judgeSource, type SourceVerdict, splitBrainReason, type Topology } from './topology';
import type { Heartbeat } from './wire';

export interface DetectionContext {
  readonly policy: Policy;
  /** Processing time, epoch ms. Observation times later than this are clamped to it. */
  readonly now: number;
  /** Known heads of the replica's source (its primary's write position, change-stream heads). */
  readonly sourceHeads?: readonly string[];
  readonly sweepShards: number;
  /**
   * The recorded primary and epoch, the lock, and the cluster's other nodes (fold.ts passes the batch's
   * view). Absent: no primary recorded and no other node known, so the topology rules never fire.
   */
  readonly topology?: Topology;
}

export type HeartbeatOutcome =
  | { readonly kind: 'applied'; readonly state: NodeState }
  /** Seen before (duplicate or out of order): nothing changes. */
  | { readonly kind: 'stale'; readonly reason: string }
  /** Valid on the wire but contradicts what is recorded: a permanent error, quarantined. */
  | { readonly kind: 'rejected'; readonly reason: string };

/** What the topology and data-loss rules say about one report, before the status is decided. */
interface TopologyJudgement {
  /** SPLIT_BRAIN: a node other than the recorded primary reports itself a writable primary. */
  splitBrain?: string;
  /** Replicas: the rule on the source they follow. */
  source?: SourceVerdict;
  /** DATA_LOSS: set (new or carried over) until an operator clears it. */
  dataLoss?: { reason: string; at: number };
}

/**
 * Status with hysteresis: bad verdicts apply at once; HEALTHY after a bad status needs `healthyStreak`
 * consecutive good heartbeats. In order:
 * - MAINTENANCE is kept until its end time (operators own it);
 * - SPLIT_BRAIN applies at once, whatever the node was (FENCED included);
 * - FENCED and SPLIT_BRAIN are kept until the node reports as a replica of a rightful source (then the
 *   normal verdict applies at once), or, SPLIT_BRAIN, it is the recorded primary now; a FENCED or
 *   SPLIT_BRAIN node following a wrong source becomes WRONG_SOURCE;
 * - DATA_LOSS while the node carries a data-loss record;
 * - WRONG_SOURCE while the replica follows a wrong source (ends at once when it follows a rightful one);
 * - RECOVERING is kept (runbooks own it); then the replica / primary verdict.
 */
function nextStatus(
  prev: NodeState | undefined,
  verdict: Verdict,
  policy: Policy,
  at: number,
  /** The role as reported (not the remembered one). */
  role: NodeState['role'],
  judged: TopologyJudgement,
): { status: NodeStatus; reason: string; healthyStreak: number } {
  const healthyStreak = verdict.status === 'HEALTHY' ? (prev?.healthyStreak ?? 0) + 1 : 0;
  const keep = {
    status: prev?.status ?? verdict.status,
    reason: prev?.statusReason ?? verdict.reason,
    healthyStreak,
  };
  if (prev?.status === 'MAINTENANCE' && (prev.maintenanceUntil === undefined || at < prev.maintenanceUntil))
    return keep;
  if (judged.splitBrain !== undefined)
    return { status: 'SPLIT_BRAIN', reason: judged.splitBrain, healthyStreak };
  const wrong = judged.source?.kind === 'wrong' ? judged.source.reason : undefined;
  if (prev?.status === 'FENCED' || prev?.status === 'SPLIT_BRAIN') {
    const rejoined =
      role === 'replica'
        ? judged.source?.kind === 'rightful'
        : role === 'primary' && prev.status === 'SPLIT_BRAIN';
    if (wrong !== undefined) return { status: 'WRONG_SOURCE', reason: wrong, healthyStreak };
    if (!rejoined) return keep;
  }
  if (judged.dataLoss) return { status: 'DATA_LOSS', reason: judged.dataLoss.reason, healthyStreak };
  if (wrong !== undefined) return { status: 'WRONG_SOURCE', reason: wrong, healthyStreak };
  if (prev?.status === 'RECOVERING') return keep;
  if (verdict.status !== 'HEALTHY') return { status: verdict.status, reason: verdict.reason, healthyStreak };
  if (prev && BAD_STATUSES.has(prev.status) && healthyStreak < policy.healthyStreak) {
    return {
      status: prev.status,
      reason: `${verdict.reason}; ${healthyStreak}/${policy.healthyStreak} good heartbeats before HEALTHY`,
      healthyStreak,
    };
  }
  return { status: 'HEALTHY', reason: verdict.reason, healthyStreak };
}

/**
 * The topology rules (topology.ts) and the restart-empty rule (data-loss.ts) for one reachable report.
 * A data loss is judged only for the recorded primary (or any primary before the first failover) that was
 * already primary: another node reporting primary is a split brain, which is what must be acted on. A
 * step back within one history is judged only against the same observer's earlier report (two
 * observers' clocks may disagree by a few writes); a new history with a reset offset needs no such care.
 */
function judgeTopology(
  prev: NodeState | undefined,
  hb: Heartbeat,
  role: NodeState['role'],
  at: number,
  ctx: DetectionContext,
): TopologyJudgement {
  const topology: Topology = ctx.topology ?? { epoch: 0, nodes: new Map() };
  const judged: TopologyJudgement = {};
  if (role === 'primary') judged.splitBrain = splitBrainReason(hb.nodeId, prev, topology, at, ctx.policy);
  if (role === 'replica') {
    const since = prev?.wrongSourceSince ?? at;
    judged.source = judgeSource(hb.nodeId, hb.replication?.sourceNodeId, topology, since, at, ctx.policy);
  }
  if (prev?.dataLossReason !== undefined) {
    judged.dataLoss = { reason: prev.dataLossReason, at: prev.dataLossAt ?? at };
  } else if (
    role === 'primary' &&
    prev?.role === 'primary' &&
    judged.splitBrain === undefined &&
    (topology.primaryNodeId === undefined || topology.primaryNodeId === hb.nodeId) &&
    prev.position !== undefined &&
    hb.position !== undefined
  ) {
    // A new history is judged against the last position anyone reported (and, when both reports counted
    // the data set, against its last count: a restart with its data keeps it); a step back within one
    // history only against this observer's own last report.
    const counts = { previous: prev.datasetKeys, current: hb.datasetKeys };
    const reset = positionRegression(hb.engine, prev.position, hb.position, counts);
    const own = prev.observers[hb.observerId]?.position;
    const regression = reset?.newHistory
      ? reset
      : own === undefined
        ? undefined
        : positionRegression(hb.engine, own, hb.position, counts);
    if (regression) {
      const ahead = replicasAhead(hb.nodeId, hb.engine, regression, topology.nodes.values());
      judged.dataLoss = { reason: describeDataLoss(hb.engine, regression, ahead), at };
    }
  }
  return judged;
}

/**
 * Applies one validated heartbeat to a node's previous state (undefined for a node never seen).
 * Pure: the result depends only on the arguments.
 *
 * - A heartbeat whose seq is not above the last one from the same observer is stale: nothing changes.
 * - An unreachable observation (reachable: false) updates only that observer's view.
 * - An observation older than the newest one applied updates its observer's view but not the data.
 */
export function applyHeartbeat(
  prev: NodeState | undefined,
  hb: Heartbeat,
  ctx: DetectionContext,
): HeartbeatOutcome {
  const seen = prev?.observers[hb.observerId];
  if (seen && hb.seq <= seen.seq) {
    return { kind: 'stale', reason: `seq ${hb.seq} from observer ${hb.observerId} is not above ${seen.seq}` };
  }
  if (prev && prev.engine !== hb.engine) {
    return {
      kind: 'rejected',
      reason: `engine: '${hb.engine}' differs from '${prev.engine}' recorded for node ${hb.clusterId}/${hb.nodeId}`,
    };
  }
  const at = Math.min(hb.observedAtMs, ctx.now);
  const view: ObserverView = { seq: hb.seq, observedAt: at, reachable: hb.reachable };
  if (hb.reachable && hb.role === 'primary' && hb.position !== undefined) view.position = hb.position;
  if (hb.replication) {
    view.linkUp = hb.replication.linkUp;
    if (hb.replication.sourceNodeId) view.sourceNodeId = hb.replication.sourceNodeId;
    if (!hb.replication.linkUp)
      view.linkDownSince = linkDownSince(prev, hb.observerId, at, hb.replication.sourceNodeId);
  }
  const observers = pruneObservers({ ...(prev?.observers ?? {}), [hb.observerId]: view }, at);
  const selfSeq = hb.observerId === hb.nodeId ? hb.seq : (prev?.seq ?? -1);
  const version = (prev?.version ?? 0) + 1;

  if (!hb.reachable || (prev && at < prev.lastHeartbeatAt)) {
    if (prev) return { kind: 'applied', state: { ...prev, observers, seq: selfSeq, version } };
    // First news of a node is that an observer cannot reach it: record it as already overdue.
    return {
      kind: 'applied',
      state: {
        clusterId: hb.clusterId,
        nodeId: hb.nodeId,
        engine: hb.engine,
        role: hb.role,
        status: 'SILENT',
        statusSince: at,
        statusReason: `never reported; observer ${hb.observerId} could not reach it`,
        seq: selfSeq,
        lastHeartbeatAt: 0,
        lastProgressAt: at,
        healthyStreak: 0,
        observers,
        deadlineAt: deadlineOfUnreachedNode(at),
        sweepShard: sweepShardOf(hb.clusterId, hb.nodeId, ctx.sweepShards),
        version,
      },
    };
  }

  const role = hb.role !== 'unknown' ? hb.role : (prev?.role ?? 'unknown');
  let verdict: Verdict = { status: 'HEALTHY', reason: 'reporting' };
  let replicaFields: Partial<NodeState> = {};
  if (role === 'replica') {
    const evaluation = evaluateReplica(prev, hb, at, ctx);
    verdict = evaluation.verdict;
    replicaFields = evaluation.fields;
  } else if (role === 'primary') {
    verdict = { status: 'HEALTHY', reason: 'primary is reporting' };
  }
  // The topology rules take the role as reported: a node that cannot tell its role claims nothing.
  const judged = judgeTopology(prev, hb, hb.role, at, ctx);
  const { status, reason, healthyStreak } = nextStatus(prev, verdict, ctx.policy, at, hb.role, judged);

  const state: NodeState = {
    clusterId: hb.clusterId,
    nodeId: hb.nodeId,
    engine: hb.engine,
    role,
    status,
    statusSince: prev && prev.status === status ? prev.statusSince : at,
    statusReason: reason,
    seq: selfSeq,
    lastHeartbeatAt: at,
    lastProgressAt: prev?.lastProgressAt ?? at,
    healthyStreak,
    observers,
    deadlineAt: deadlineAfterReport(at, ctx.policy),
    sweepShard: prev?.sweepShard ?? sweepShardOf(hb.clusterId, hb.nodeId, ctx.sweepShards),
    version,
  };
  if (prev && status === 'MAINTENANCE') {
    // The window (and who set it, and why) stays with the node for as long as it lasts.
    for (const key of ['maintenanceUntil', 'maintenanceBy', 'maintenanceReason'] as const) {
      if (prev[key] !== undefined) Object.assign(state, { [key]: prev[key] });
    }
  }
  const position = hb.position ?? (role === 'primary' ? prev?.position : undefined);
  if (position !== undefined) state.position = position;
  // Kept only while the node stays primary: a count from before a promotion says nothing of its data now.
  const datasetKeys =
    hb.datasetKeys ?? (role === 'primary' && prev?.role === 'primary' ? prev.datasetKeys : undefined);
  if (datasetKeys !== undefined) state.datasetKeys = datasetKeys;
  if (judged.dataLoss) {
    state.dataLossReason = judged.dataLoss.reason;
    state.dataLossAt = judged.dataLoss.at;
  }
  if (judged.source?.kind === 'wrong' || judged.source?.kind === 'awaiting-repoint')
    state.wrongSourceSince = prev?.wrongSourceSince ?? at;
  if (role === 'replica') {
    Object.assign(state, dropUndefined(replicaFields));
    const replication = hb.replication;
    if (replication?.sourceNodeId) state.sourceNodeId = replication.sourceNodeId;
    if (replication) state.linkUp = replication.linkUp;
    if (replication?.paused !== undefined) state.paused = replication.paused;
  }
  return { kind: 'applied', state };
}

function dropUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
