/**
 * ChooseCandidate: the node a failover promotes (the gates, an operator's request or force, a resumed run's
 * candidate) or a switchover's requested node confirmed on fresh state; the plan recorded on the incident.
 */
import { chooseCandidate, forcedCandidate, type NodeFailoverConfig } from '../core/candidate';
import type { RunbookState, StepResult } from '../core/runbook';
import { planSwitchover } from '../core/switchover';
import { failoverRequest, resuming, switchover } from './run-state';
import type { RunbookSteps, StepDeps } from './step-deps';
import type { StepTools } from './step-tools';

/** The ChooseCandidate step. */
export function candidateStep(deps: StepDeps, tools: StepTools): Pick<RunbookSteps, 'chooseCandidate'> {
  const { record, switchoverContext, switchoverEnded } = tools;

  /** chooseCandidate of a switchover: the request's node (or the Check's choice), confirmed on fresh state. */
  const chooseSwitchoverCandidate = async (state: RunbookState): Promise<StepResult<'chooseCandidate'>> => {
    const { context, cluster } = await switchoverContext(state);
    const plan = planSwitchover(context, state.candidate ?? state.requested?.to);
    if (!plan.ok || plan.primary !== state.nodeId) {
      const reason = plan.ok ? `the primary is ${plan.primary} now, not ${state.nodeId}` : plan.reason;
      const detail = await switchoverEnded(
        state,
        'refused',
        `switchover refused: ${reason}; nothing touched`,
      );
      return { ...state, next: 'no-candidate', outcome: detail };
    }
    const repoint = [...context.nodes.values()]
      .filter((n) => n.nodeId !== state.nodeId && n.nodeId !== plan.candidate && n.role !== 'primary')
      .filter((n) => ['HEALTHY', 'LAGGING', 'STALLED'].includes(n.status))
      .map((n) => n.nodeId)
      .sort();
    const dataAtRisk = `none: writes stop on ${state.nodeId} and ${plan.candidate} must apply its final position before it is promoted (else the switchover is called off)`;
    await record(
      state,
      'plan',
      `plan: switch over from ${state.nodeId} to ${plan.candidate} (${plan.reason}); ${dataAtRisk}; then ${state.nodeId} follows ${plan.candidate}; repoint ${repoint.join(', ') || 'no other replica'}`,
      {
        change: {
          plan: {
            candidate: plan.candidate,
            rejected: [],
            repoint,
            reason: plan.reason,
            atRisk: [],
            dataAtRisk,
          },
        },
        once: plan.candidate,
      },
    );
    const next = state.requested?.dryRun || cluster.mode === 'off' ? 'dry-run' : cluster.mode;
    return { ...state, candidate: plan.candidate, repoint, next };
  };

  return {
    async chooseCandidate(state) {
      if (switchover(state)) return chooseSwitchoverCandidate(state);
      const [cluster, snapshot, incident] = await Promise.all([
        deps.recovery.getCluster(state.clusterId),
        deps.nodes.loadCluster(state.clusterId),
        deps.recovery.getIncident(state.clusterId, state.incidentId, state.openedAt),
      ]);
      const config = new Map<string, NodeFailoverConfig>(cluster.nodes.map((n) => [n.nodeId, n]));
      const all = [...snapshot.nodes.values()];
      // Not promoted: the node of the replica recovery this failover preempted (TakeLock); repointed as usual.
      const nodes = all.filter(
        (n) => n.nodeId !== state.preemptedNodeId || state.preemptedNodeId === undefined,
      );
      const repointAround = (candidate: string | undefined) =>
        all
          .filter((n) => n.nodeId !== state.nodeId && n.nodeId !== candidate && n.role !== 'primary')
          .filter((n) => ['HEALTHY', 'LAGGING', 'STALLED'].includes(n.status))
          .map((n) => n.nodeId)
          .sort();
      if (resuming(state, cluster)) {
        // The candidate the epoch moved for (recorded with the epoch, maybe promoted and recorded since): the
        // run goes on with that one; promoting another now could make two primaries. The plan is read only for
        // an epoch moved before the epoch recorded its candidate.
        const candidate =
          cluster.primaryNodeId !== undefined && cluster.primaryNodeId !== state.nodeId
            ? cluster.primaryNodeId
            : (cluster.epochCandidate ?? incident?.plan?.candidate);
        if (candidate === undefined)
          throw new Error(
            `chooseCandidate: incident ${state.incidentId} moved the epoch but recorded no candidate: a human must look`,
          );
        const repoint = repointAround(candidate);
        await record(
          state,
          'plan',
          `resuming with ${candidate}, chosen before the epoch moved to ${cluster.epoch}${cluster.primaryNodeId === candidate ? ' (already recorded as the primary)' : ''}; repoint ${repoint.join(', ') || 'no other replica'}`,
          { once: `resume-${candidate}` },
        );
        return { ...state, candidate, repoint, next: 'auto' };
      }
      const requested = failoverRequest(state);
      const choice = chooseCandidate(
        nodes,
        state.nodeId,
        config,
        snapshot.policy,
        deps.clock(),
        requested?.to,
      );
      // A forced manual failover promotes a candidate the gates refused: the loss is stated, recorded, announced.
      const forced =
        choice.candidate === undefined && requested?.force
          ? forcedCandidate(nodes, state.nodeId, config, snapshot.policy, deps.clock(), requested.to)
          : undefined;
      const candidate = choice.candidate ?? forced?.candidate;
      const risk = choice.atRisk.find((r) => r.nodeId === candidate);
      const dataAtRisk =
        forced?.candidate !== undefined
          ? `FORCED by ${requested?.by ?? 'unknown'} (${requested?.reason ?? 'no reason'}), overriding: ${choice.reason}; data at risk if ${forced.candidate} is promoted: ${risk?.text ?? 'unknown'}`
          : choice.dataAtRisk;
      const repoint = repointAround(candidate);
      const reason = forced?.candidate !== undefined ? `forced: ${forced.reason}` : choice.reason;
      const plan = {
        ...(candidate ? { candidate } : {}),
        rejected: choice.rejected,
        repoint,
        reason,
        atRisk: choice.atRisk,
        ...(dataAtRisk ? { dataAtRisk } : {}),
        ...(forced?.candidate !== undefined
          ? {
              forced: {
                by: requested?.by ?? 'unknown',
                reason: requested?.reason ?? 'no reason',
                overrode: choice.reason,
              },
            }
          : {}),
      };
      const rejected = choice.rejected.map((r) => `${r.nodeId}: ${r.reason}`);
      const refusal =
        forced !== undefined && forced.candidate === undefined
          ? `${choice.reason}; forced: ${forced.reason}`
          : choice.reason;
      const detail = candidate
        ? `plan: ${reason}; ${dataAtRisk ?? 'data at risk unknown'}; repoint ${repoint.join(', ') || 'no other replica'}${rejected.length ? `; not chosen — ${rejected.join('; ')}` : ''}`
        : refusal;
      // The plan on the incident is written on every look: it is always the latest choice (X, then Y, then X
      // again is X). The step is recorded when the choice changes (keyed by the choice and the one before it),
      // so a run re-armed for hours does not grow the record; a forced choice is recorded and announced the
      // same way, so the candidate acted on always has its forced record.
      const previous = incident?.plan?.candidate;
      const once =
        candidate === previous
          ? `${candidate ?? 'none'}`
          : `${candidate ?? 'none'}/after-${previous ?? 'none'}`;
      await deps.recovery.setPlan(state.clusterId, state.incidentId, state.openedAt, plan, deps.clock());
      await record(state, 'plan', detail, { once });
      if (forced?.candidate !== undefined)
        await record(state, 'forced', `failover forced: ${dataAtRisk}`, { notify: true, once });
      if (!candidate) return { ...state, next: 'no-candidate', outcome: refusal };
      // An operator's request is the decision (no approval); a mode turned off since ReVerify touches nothing:
      // it is recorded as a dry run.
      return {
        ...state,
        candidate,
        repoint,
        next: requested
          ? requested.dryRun
            ? 'dry-run'
            : 'auto'
          : cluster.mode === 'off'
            ? 'dry-run'
            : cluster.mode,
      };
    },
  };
}
