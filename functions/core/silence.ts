import { type NodeState, type ObserverView, withTransition } from './node-state';
import type { Policy } from './policy';
import { deadlineInMaintenance, deadlineOfSilentPrimary, NEVER } from './silence-deadline';

/** One observer alone never declares a primary dead, whatever the configured quorum. */
export const MIN_QUORUM = 2;

export interface QuorumVerdict {
  /** True when the primary is silent and at least `required` independent views confirm it is down. */
  readonly dead: boolean;
  readonly required: number;
  /** The views that confirm it is down, e.g. `replica pg-2: replication link down`. */
  readonly confirmations: readonly string[];
  /** Fresh views that say the primary is alive (a replica still linked to it): any one vetoes DEAD. */
  readonly vetoes: readonly string[];
  readonly reason: string;
}

/**
 * The dead-primary rule (docs/DESIGN.md §4). A primary is DEAD when
 * 1. it is silent: no reachable report of it (its own or a probe's) for `heartbeatTimeoutSeconds`; and
 * 2. at least max(`quorum`, 2) independent views, each observed after its last report and within the
 *    last 2 × `heartbeatTimeoutSeconds`, agree that it is down:
 *    - a replica whose latest report of its replication link — its own, or a probe's that reached it and
 *      read the replica's replication status — says its link to this primary is down, and has said so only
 *      since around the primary's last report (a link that was already down before is no evidence: that
 *      replica was broken on its own); a replica whose link points at another node — the primary moved —
 *      does not count; each replica counts once, however many probes relay its view;
 *    - an external observer (a probe, `observerId` ≠ node id) that could not reach it; and
 * 3. no fresh view contradicts it: a replica reporting its link to this primary up means the primary is
 *    alive and only its own reporting is broken (a partition between the primary and the monitor).
 * Each observer counts once.
 */
export function judgePrimary(
  primary: NodeState,
  cluster: readonly NodeState[],
  policy: Policy,
  now: number,
): QuorumVerdict {
  const timeoutMs = policy.heartbeatTimeoutSeconds * 1000;
  const required = Math.max(policy.quorum, MIN_QUORUM);
  const silentForMs = now - primary.lastHeartbeatAt;
  // A replica's link counts only if it went down around or after the primary's last report: one heartbeat
  // interval of slack for the clocks of two observers.
  const graceMs = policy.heartbeatIntervalSeconds * 1000;
  const fresh = (observedAt: number) =>
    observedAt > primary.lastHeartbeatAt && now - observedAt <= 2 * timeoutMs;
  const confirmations: string[] = [];
  const vetoes: string[] = [];
  const otherPrimaries = cluster.filter((n) => n.nodeId !== primary.nodeId && n.role === 'primary').length;

  for (const [observerId, view] of Object.entries(primary.observers)) {
    if (observerId === primary.nodeId || !fresh(view.observedAt)) continue;
    if (!view.reachable) confirmations.push(`observer ${observerId}: cannot reach ${primary.nodeId}`);
  }
  for (const node of cluster) {
    if (node.nodeId === primary.nodeId || node.role === 'primary') continue;
    const link = latestLinkView(node);
    if (link === undefined || !fresh(link.observedAt)) continue;
    const pointsHere =
      link.sourceNodeId === primary.nodeId || (link.sourceNodeId === undefined && otherPrimaries === 0);
    if (!pointsHere) continue;
    if (link.linkUp) {
      vetoes.push(`replica ${node.nodeId}: replication link to ${primary.nodeId} is up`);
    } else if ((link.linkDownSince ?? link.observedAt) >= primary.lastHeartbeatAt - graceMs) {
      confirmations.push(`replica ${node.nodeId}: replication link down`);
    }
  }

  const silent = silentForMs >= timeoutMs;
  const dead = silent && confirmations.length >= required && vetoes.length === 0;
  const seconds = Math.round(silentForMs / 1000);
  let reason: string;
  if (!silent) reason = `primary reported ${seconds}s ago`;
  else if (dead)
    reason = `no report for ${seconds}s and ${confirmations.length}/${required} views confirm: ${confirmations.join('; ')}`;
  else if (vetoes.length > 0) reason = `no report for ${seconds}s, but ${vetoes.join('; ')}`;
  else reason = `no report for ${seconds}s; ${confirmations.length}/${required} views confirm it is down`;
  return { dead, required, confirmations, vetoes, reason };
}

/**
 * A replica's latest word on its replication link: its own report, or the report of a probe that reached
 * it and read the replica's replication status (a probe relays the replica's view, it does not add its own).
 */
function latestLinkView(node: NodeState): ObserverView | undefined {
  let latest: ObserverView | undefined;
  for (const view of Object.values(node.observers)) {
    if (!view.reachable || view.linkUp === undefined) continue;
    if (latest === undefined || view.observedAt > latest.observedAt) latest = view;
  }
  return latest;
}

/**
 * Statuses the sweep leaves alone: runbooks and operators own them, or the node is already judged.
 * FENCED, SPLIT_BRAIN, WRONG_SOURCE and DATA_LOSS nodes are swept like any other: a node that stops
 * reporting is SILENT whatever it was (a DATA_LOSS node keeps its data-loss record and is DATA_LOSS
 * again at its next report).
 */
const SWEEP_KEEPS = new Set(['MAINTENANCE', 'RECOVERING', 'DEAD']);

/** Statuses of a node that reports primary but is not taken for the primary: never DEAD by quorum. */
const NOT_THE_PRIMARY = new Set(['FENCED', 'SPLIT_BRAIN']);

/**
 * What a sweep does with an overdue node (pure). A replica or unknown node becomes SILENT and is not
 * swept again until it reports. A primary becomes SILENT, then DEAD once the quorum rule holds; until
 * then it is swept again every `heartbeatIntervalSeconds` so new views are taken into account. A FENCED
 * or SPLIT_BRAIN primary is silenced like a replica unless it is the recorded primary (`primaryNodeId`):
 * its death is no failover's business.
 *
 * @returns the node to write (version incremented, transition marked), or undefined for no change.
 */
export function sweepNode(
  node: NodeState,
  cluster: readonly NodeState[],
  policy: Policy,
  now: number,
  primaryNodeId?: string,
): NodeState | undefined {
  if (node.deadlineAt > now) return undefined;
  if (node.status === 'MAINTENANCE' && (node.maintenanceUntil === undefined || node.maintenanceUntil > now)) {
    // Muted: look again when the window ends, not at every sweep.
    return write(node, { deadlineAt: deadlineInMaintenance(node.maintenanceUntil) });
  }
  if (SWEEP_KEEPS.has(node.status) && node.status !== 'MAINTENANCE') {
    return node.deadlineAt === NEVER ? undefined : write(node, { deadlineAt: NEVER });
  }
  const silentFor = Math.round((now - node.lastHeartbeatAt) / 1000);
  // The recorded primary is judged as one even before it reported as one (killed right after its promotion).
  const judgedAsPrimary =
    node.nodeId === primaryNodeId || (node.role === 'primary' && !NOT_THE_PRIMARY.has(node.status));
  if (!judgedAsPrimary) {
    return write(node, {
      status: 'SILENT',
      statusReason: `no heartbeat for ${silentFor}s (timeout ${policy.heartbeatTimeoutSeconds}s)`,
      deadlineAt: NEVER,
    });
  }
  const verdict = judgePrimary(node, cluster, policy, now);
  const role = 'primary' as const;
  if (verdict.dead)
    return write(node, { role, status: 'DEAD', statusReason: verdict.reason, deadlineAt: NEVER });
  return write(node, {
    role,
    status: 'SILENT',
    statusReason: verdict.reason,
    deadlineAt: deadlineOfSilentPrimary(now, policy),
  });

  function write(before: NodeState, change: Partial<NodeState>): NodeState {
    const status = change.status ?? before.status;
    const next: NodeState = {
      ...before,
      ...change,
      statusSince: status === before.status ? before.statusSince : now,
      healthyStreak: status === before.status ? before.healthyStreak : 0,
      version: before.version + 1,
    };
    return withTransition(next, before);
  }
}
