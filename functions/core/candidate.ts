/**
 * Choosing the replica to promote when the primary is dead ({@link chooseCandidate}), and the one a forced
 * manual failover promotes ({@link forcedCandidate}); the data at risk they weigh is in data-at-risk.ts.
 */
import { appliedPosition, type DataAtRisk, dataAtRisk, references } from './data-at-risk';
import type { NodeState, NodeStatus } from './node-state';
import type { Policy } from './policy';
import type { Position } from './position';
import { comparePositions, distanceUnitText, positionDistance } from './position-comparison';

/** Per-node failover settings from the cluster configuration. */
export interface NodeFailoverConfig {
  /** Higher is preferred between equally advanced replicas. @default 0 */
  readonly priority?: number;
  /** Never promote this node. @default false */
  readonly noPromote?: boolean;
}

export interface CandidateChoice {
  /** The replica to promote, or undefined when none is eligible (the runbook pages, it never promotes a bad one). */
  readonly candidate?: string;
  /** Eligible replicas, best first (still listed when a newer non-eligible replica blocks the failover). */
  readonly ranking: readonly string[];
  /** Why each other node was not chosen, one sentence each (goes into the notification). */
  readonly rejected: readonly { readonly nodeId: string; readonly reason: string }[];
  readonly reason: string;
  /** The data at risk for every node but the failed primary, by node id. */
  readonly atRisk: readonly DataAtRisk[];
  /** The chosen candidate's data at risk in one line, for the plan and the notification; absent without one. */
  readonly dataAtRisk?: string;
}

/** Statuses a candidate may have: a replica of a dead primary is typically STALLED (its link is down). */
const ELIGIBLE: ReadonlySet<NodeStatus> = new Set(['HEALTHY', 'LAGGING', 'STALLED']);
/** Statuses of a node whose stored positions are no evidence of its current data. */
const GONE: ReadonlySet<NodeStatus> = new Set(['SILENT', 'DEAD']);

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Chooses the replica to promote when `failedPrimaryId` is dead (pure).
 *
 * Eligible: a replica that is alive (reported within `heartbeatTimeoutSeconds`, status HEALTHY, LAGGING
 * or STALLED), not marked noPromote, whose applied position is known and whose data at risk (see
 * {@link DataAtRisk}) is measurable (unless `promoteOnUnmeasurableLag`), at most `maxLagOnFailover` in the
 * engine's unit, and whose last reported lag is at most `maxLagSecondsOnFailover`. Among those: the most
 * advanced applied position, then the highest priority, then the node id (so the choice is stable).
 *
 * No candidate when a live replica that is not eligible (noPromote, in maintenance, over a gate...) is
 * ahead of the best eligible one: promoting would repoint it and wipe the only copy of the newest data,
 * so the runbook pages instead.
 */
export function chooseCandidate(
  nodes: readonly NodeState[],
  failedPrimaryId: string,
  config: ReadonlyMap<string, NodeFailoverConfig>,
  policy: Policy,
  now: number,
  /**
   * The replica an operator asked for (a manual failover's `--to`): it is the candidate if it passes the same
   * gates and no live non-eligible replica holds newer data; otherwise there is none.
   */
  requested?: string,
): CandidateChoice {
  const timeoutMs = policy.heartbeatTimeoutSeconds * 1000;
  const isLive = (node: NodeState) => !GONE.has(node.status) && now - node.lastHeartbeatAt <= timeoutMs;
  const refs = references(nodes, failedPrimaryId, isLive);
  const atRisk = new Map<string, DataAtRisk>();
  const rejected: { nodeId: string; reason: string }[] = [];
  const eligible: { node: NodeState; position: Position; priority: number }[] = [];

  for (const node of nodes) {
    if (node.nodeId === failedPrimaryId) continue;
    const risk = dataAtRisk(node, refs);
    atRisk.set(node.nodeId, risk);
    const settings = config.get(node.nodeId) ?? {};
    const position = appliedPosition(node);
    const silentFor = now - node.lastHeartbeatAt;
    const reject = (reason: string) => rejected.push({ nodeId: node.nodeId, reason });
    if (node.role === 'primary') reject('reports as a primary itself');
    else if (settings.noPromote) reject('marked noPromote');
    else if (!ELIGIBLE.has(node.status)) reject(`is ${node.status}`);
    else if (silentFor > timeoutMs) reject(`last reported ${Math.round(silentFor / 1000)}s ago`);
    else if (!position) reject('reports no applied position');
    else if (!risk.measurable && !policy.promoteOnUnmeasurableLag) {
      reject(`data at risk unknown, ${risk.text} (promoteOnUnmeasurableLag is off)`);
    } else if ((risk.bytes ?? risk.transactions ?? 0) > policy.maxLagOnFailover) {
      reject(
        `${risk.text}: more than maxLagOnFailover (${policy.maxLagOnFailover} ${distanceUnitText(position.kind)})`,
      );
    } else if (risk.seconds !== undefined && risk.seconds > policy.maxLagSecondsOnFailover) {
      reject(
        `last reported lag ${risk.seconds}s is more than maxLagSecondsOnFailover (${policy.maxLagSecondsOnFailover}s)`,
      );
    } else eligible.push({ node, position, priority: settings.priority ?? 0 });
  }

  eligible.sort((a, b) => {
    const order = comparePositions(b.position, a.position);
    if (order !== undefined && order !== 0) return order;
    return b.priority - a.priority || a.node.nodeId.localeCompare(b.node.nodeId);
  });
  const reasonOf = (nodeId: string) => rejected.find((r) => r.nodeId === nodeId)?.reason ?? 'not eligible';
  const passed = [...eligible];
  if (requested !== undefined) {
    const wanted = eligible.find((e) => e.node.nodeId === requested);
    if (wanted === undefined) {
      const known = nodes.some((n) => n.nodeId === requested);
      rejected.sort((a, b) => a.nodeId.localeCompare(b.nodeId));
      return {
        ranking: eligible.map((e) => e.node.nodeId),
        rejected,
        reason: `no safe candidate: ${requested} was asked for but ${known ? reasonOf(requested) : 'is not a node of the cluster'}`,
        atRisk: sortById([...atRisk.values()]),
      };
    }
    // The others are not promoted: a more advanced eligible one's newer data is in the asked-for node's data
    // at risk (it is measured against every live replica) and under the same gates.
    eligible.sort((a, b) => (a === wanted ? -1 : b === wanted ? 1 : 0));
    for (const other of eligible.slice(1))
      rejected.push({ nodeId: other.node.nodeId, reason: `eligible, but ${requested} was asked for` });
    eligible.splice(1);
  }
  const [best, ...others] = eligible;
  const blocker = best ? newestBlocker(nodes, failedPrimaryId, passed, best.position, isLive) : undefined;

  if (best && blocker) {
    const ahead = positionDistance(blocker.position, best.position);
    const by =
      ahead === undefined
        ? ''
        : `, ${ahead} ${distanceUnitText(best.position.kind)} ahead of ${best.node.nodeId}`;
    for (const entry of eligible) {
      rejected.push({
        nodeId: entry.node.nodeId,
        reason: `eligible, but ${blocker.node.nodeId} holds newer data that promoting it would wipe`,
      });
    }
    rejected.sort((a, b) => a.nodeId.localeCompare(b.nodeId));
    return {
      ranking: eligible.map((e) => e.node.nodeId),
      rejected,
      reason:
        `no safe candidate: ${blocker.node.nodeId} holds the newest data (applied ${blocker.position.raw}${by}) but ` +
        `${reasonOf(blocker.node.nodeId)}; promoting ${best.node.nodeId}, the best eligible replica, would wipe that ` +
        `data when ${blocker.node.nodeId} is repointed to it. Nothing is promoted: an operator must choose.`,
      atRisk: sortById([...atRisk.values()]),
    };
  }

  for (const other of others) {
    const order = best ? comparePositions(best.position, other.position) : undefined;
    rejected.push({
      nodeId: other.node.nodeId,
      reason:
        order === undefined
          ? `applied position ${other.position.raw} cannot be compared with ${best?.node.nodeId}'s`
          : order > 0
            ? `applied position ${other.position.raw} is behind ${best?.node.nodeId}'s ${best?.position.raw}`
            : `as advanced as ${best?.node.nodeId} but priority ${other.priority} is not higher than ${best?.priority}${other.priority === best?.priority ? ' (tie broken by node id)' : ''}`,
    });
  }
  rejected.sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  const choice: Mutable<CandidateChoice> = {
    ranking: eligible.map((e) => e.node.nodeId),
    rejected,
    reason: best
      ? `promote ${best.node.nodeId}: the most advanced eligible replica at ${best.position.raw}${best.priority ? ` (priority ${best.priority})` : ''}`
      : `no eligible replica: ${rejected.map((r) => `${r.nodeId} ${r.reason}`).join('; ') || 'the cluster has no replica'}`,
    atRisk: sortById([...atRisk.values()]),
  };
  if (best && requested !== undefined)
    choice.reason = `promote ${best.node.nodeId}: asked for by the operator, eligible at ${best.position.raw}`;
  if (best) {
    choice.candidate = best.node.nodeId;
    choice.dataAtRisk = `data at risk if ${best.node.nodeId} is promoted: ${atRisk.get(best.node.nodeId)?.text}`;
  }
  return choice;
}

/**
 * The most advanced live replica that is not eligible and is strictly ahead of the best eligible one:
 * it alone holds the newest data, and a failover would repoint it (and wipe that data).
 */
function newestBlocker(
  nodes: readonly NodeState[],
  failedPrimaryId: string,
  eligible: readonly { readonly node: NodeState }[],
  best: Position,
  isLive: (node: NodeState) => boolean,
): { node: NodeState; position: Position } | undefined {
  let newest: { node: NodeState; position: Position } | undefined;
  for (const node of nodes) {
    if (node.nodeId === failedPrimaryId || node.role === 'primary' || !isLive(node)) continue;
    if (eligible.some((e) => e.node.nodeId === node.nodeId)) continue;
    const position = appliedPosition(node);
    if (!position || comparePositions(position, best) !== 1) continue;
    if (!newest || comparePositions(position, newest.position) === 1) newest = { node, position };
  }
  return newest;
}

function sortById<T extends { readonly nodeId: string }>(items: T[]): T[] {
  return items.sort((a, b) => a.nodeId.localeCompare(b.nodeId));
}

/**
 * The replica a forced manual failover promotes when the gates refused every candidate (pure): the asked-for
 * node, else the most advanced promotable one. Force lifts the data-at-risk gates only: the node must still
 * be a live replica (HEALTHY, LAGGING or STALLED, reported within `heartbeatTimeoutSeconds`) that is not
 * marked noPromote and reports an applied position. Undefined `candidate`: nothing may be promoted, and why.
 */
export function forcedCandidate(
  nodes: readonly NodeState[],
  failedPrimaryId: string,
  config: ReadonlyMap<string, NodeFailoverConfig>,
  policy: Policy,
  now: number,
  requested?: string,
): { readonly candidate?: string; readonly reason: string } {
  const timeoutMs = policy.heartbeatTimeoutSeconds * 1000;
  const why = (node: NodeState): string | undefined => {
    if (node.nodeId === failedPrimaryId) return 'is the failed primary';
    if (node.role !== 'replica') return `is not a replica (role ${node.role})`;
    if (config.get(node.nodeId)?.noPromote) return 'is marked noPromote';
    if (!ELIGIBLE.has(node.status) || now - node.lastHeartbeatAt > timeoutMs)
      return `is ${node.status}, last reported ${Math.round((now - node.lastHeartbeatAt) / 1000)}s ago: not reachable`;
    if (!appliedPosition(node)) return 'reports no applied position';
    return undefined;
  };
  if (requested !== undefined) {
    const node = nodes.find((n) => n.nodeId === requested);
    if (node === undefined) return { reason: `${requested} is not a node of the cluster` };
    const problem = why(node);
    return problem === undefined
      ? { candidate: requested, reason: `${requested} was asked for` }
      : { reason: `${requested} ${problem}: force does not lift that` };
  }
  const promotable = nodes
    .filter((n) => why(n) === undefined)
    .sort((a, b) => {
      const pa = appliedPosition(a);
      const pb = appliedPosition(b);
      const order = pa && pb ? comparePositions(pb, pa) : undefined;
      if (order !== undefined && order !== 0) return order;
      const priority = (config.get(b.nodeId)?.priority ?? 0) - (config.get(a.nodeId)?.priority ?? 0);
      return priority !== 0 ? priority : a.nodeId.localeCompare(b.nodeId);
    });
  const best = promotable[0];
  return best === undefined
    ? {
        reason: 'no live replica that may be promoted (force does not lift noPromote or an unreachable node)',
      }
    : { candidate: best.nodeId, reason: `${best.nodeId} is the most advanced promotable replica` };
}
