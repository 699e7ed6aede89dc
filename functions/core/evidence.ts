import type { NodeState } from './node-state';
import type { Policy } from './policy';
import { judgePrimary } from './silence';

/**
 * What fresh node state says about a primary a failover was started for (pure), re-judged at every
 * decision of the runbook (before the lock, after an approval, right before Fence):
 * - `dead`: still DEAD (or silent with the quorum confirming it), nothing reported since, no view vetoes;
 * - `alive`: its DEAD status stands but it reported within `heartbeatTimeoutSeconds`, or a replica still
 *   sees its link to it up — the verdict is out of date (the status clears after `healthyStreak` reports);
 * - `recovered`: it is no longer DEAD nor judged dead.
 */
export type PrimaryEvidence =
  | { readonly kind: 'dead'; readonly reason: string }
  | { readonly kind: 'alive'; readonly reason: string }
  | { readonly kind: 'recovered'; readonly reason: string };

export function primaryEvidence(
  primary: NodeState,
  cluster: readonly NodeState[],
  policy: Policy,
  now: number,
): PrimaryEvidence {
  const verdict = judgePrimary(primary, cluster, policy, now);
  if (primary.status !== 'DEAD' && !verdict.dead) {
    return {
      kind: 'recovered',
      reason: `${primary.nodeId} is ${primary.status}, not dead: ${verdict.reason}`,
    };
  }
  const silentMs = now - primary.lastHeartbeatAt;
  if (silentMs < policy.heartbeatTimeoutSeconds * 1000) {
    return {
      kind: 'alive',
      reason: `${primary.nodeId} reported ${Math.round(silentMs / 1000)}s ago, after it was declared DEAD`,
    };
  }
  if (verdict.vetoes.length > 0) {
    return { kind: 'alive', reason: `${primary.nodeId} is silent, but ${verdict.vetoes.join('; ')}` };
  }
  return {
    kind: 'dead',
    reason: verdict.dead ? verdict.reason : `${primary.nodeId} is DEAD: ${primary.statusReason}`,
  };
}
