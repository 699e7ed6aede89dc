import { errorMessage, withDeadline } from '../adapters/hooks/connection';
import type { Log } from '../adapters/log';
import type { NodeStateStore } from '../adapters/node-state-store';
import type { Notifier } from '../adapters/notifier';
import type { RecoveryHooks } from '../adapters/recovery-hooks';
import type { RecoveryStore } from '../adapters/recovery-store';
import { chooseCandidate, forcedCandidate, type NodeFailoverConfig } from '../core/candidate';
import { primaryEvidence } from '../core/evidence';
import type { HookResult, NodeEndpoint } from '../core/hooks';
import { HookFailedError } from '../core/hooks';
import { executionNameFor, type Incident } from '../core/incidents';
import { halfDoneBy, lockRequestOf } from '../core/manual-failover';
import { type NodeState, withTransition } from '../core/node-state';
import { runbookNotification } from '../core/notification';
import { failoverEpoch, planFor } from '../core/operator';
import type { Policy } from '../core/policy';
import type { Engine } from '../core/position';
import {
  assertEpoch,
  type ClusterRecoveryState,
  type LockRequest,
  lockVerdict,
  rearmSeconds,
} from '../core/recovery';
import { nodeRequestContextOf, planRebuild, planRejoin, rejoinPrimary } from '../core/rejoin';
import {
  type HookAction,
  REJOIN_KINDS,
  type RunbookAction,
  type RunbookState,
  type StepResult,
} from '../core/runbook';
import {
  catchUpLooksUntil,
  caughtUp,
  planSwitchover,
  promoteTooLate,
  SWITCHOVER_CATCH_UP_LOOK_MS,
  SWITCHOVER_CATCH_UP_POLL_MS,
  SWITCHOVER_CATCH_UP_SECONDS,
  SWITCHOVER_POLL_SECONDS,
  switchoverContextOf,
} from '../core/switchover';

export interface StepDeps {
  readonly recovery: Pick<
    RecoveryStore,
    | 'getCluster'
    | 'takeLock'
    | 'releaseLock'
    | 'bumpEpoch'
    | 'setPrimary'
    | 'recordEpoch'
    | 'recordStep'
    | 'setPlan'
    | 'getIncident'
    | 'findIncident'
  >;
  readonly nodes: Pick<NodeStateStore, 'loadCluster' | 'putNode'>;
  readonly hooks: RecoveryHooks;
  readonly notifier: Notifier;
  readonly logger: Log;
  readonly clock: () => number;
  /** Seconds between restarting a replica and checking its progress. @default 30 */
  readonly verifyAfterSeconds?: number;
}

export interface StepInput {
  readonly action: RunbookAction;
  readonly state: RunbookState;
  readonly taskToken?: string;
}

/**
 * How a runbook ended, when `action` ended it with `result` (recovered, paged, no-candidate, failed,
 * dry-run, expired, rejected); undefined for the steps in between. The RunbookOutcomes metric's dimension.
 */
export function runbookOutcome(action: RunbookAction, result: RunbookState): string | undefined {
  switch (action) {
    case 'complete':
      return result.outcome?.startsWith('paged') ? 'paged' : 'recovered';
    case 'noCandidate':
      return 'no-candidate';
    case 'markFailed':
      return 'failed';
    case 'recordDryRun':
      return 'dry-run';
    case 'recordExpired':
      return 'expired';
    case 'applyApproval':
      return result.next === 'rejected' ? 'rejected' : undefined;
    default:
      return undefined;
  }
}

/** The status a replica-recovery run was started for: its incident's kind (STALLED for older executions). */
function expectedStatus(state: RunbookState): string {
  return state.kind ?? (state.runbook === 'primary-failover' ? 'DEAD' : 'STALLED');
}

/** A replica-recovery run an operator asked for (`rejoin`, `rebuild`): its incident has no LATEST pointer. */
function nodeRequested(state: RunbookState): boolean {
  return state.runbook === 'replica-recovery' && state.requested !== undefined;
}

/**
 * The execution that replaced this one on its incident (an operator's takeover or `recover` starts the
 * incident's next attempt under a new execution name), or undefined while this run is the incident's own.
 */
function supersededBy(
  state: RunbookState,
  incident: Pick<Incident, 'incidentId' | 'flaps' | 'attempt'> | undefined,
): string | undefined {
  if (incident === undefined) return undefined;
  const current = executionNameFor(incident);
  return current === state.executionName ? undefined : current;
}

/**
 * Why a failover of `state.nodeId` has nothing to fail over: another node is the recorded primary (a
 * failover or switchover moved the role since this incident was opened). Undefined while it is the primary
 * or none is recorded.
 */
function notThePrimary(state: RunbookState, cluster: ClusterRecoveryState): string | undefined {
  if (cluster.primaryNodeId === undefined || cluster.primaryNodeId === state.nodeId) return undefined;
  return `${state.nodeId} is no longer the recorded primary (${cluster.primaryNodeId} is, epoch ${cluster.epoch})`;
}

/** Whether the run is judged on the node's fresh reports (a rejoin, or an operator's rebuild). */
function judgedOnReports(state: RunbookState): boolean {
  return REJOIN_KINDS.includes(expectedStatus(state)) || expectedStatus(state) === 'REBUILD';
}

/**
 * The primary a rejoin moves the node under: the recorded one; for an operator's request before any is
 * recorded, the only other HEALTHY node reporting primary (functions/core/rejoin.ts).
 */
function targetPrimary(
  state: RunbookState,
  cluster: ClusterRecoveryState,
  nodes: ReadonlyMap<string, NodeState>,
): string | undefined {
  if (!nodeRequested(state)) return cluster.primaryNodeId;
  return rejoinPrimary(nodeRequestContextOf(state.clusterId, cluster, nodes, state.incidentId), state.nodeId);
}

/** Whether the node's reports since `since` say it replicates from `primary`. */
function rejoinedUnder(node: NodeState | undefined, primary: string | undefined, since: number): boolean {
  return (
    node !== undefined &&
    primary !== undefined &&
    node.role === 'replica' &&
    node.sourceNodeId === primary &&
    node.lastHeartbeatAt > since
  );
}

/** How long a rejoined node has to report itself under the primary: a few reports, at least its timeout. */
function rejoinReportSeconds(policy: Policy): number {
  return Math.max(policy.heartbeatTimeoutSeconds, 3 * policy.heartbeatIntervalSeconds);
}

/** How long a run waits for a primary that may be alive to settle (its status clears or it goes silent again). */
function aliveRetrySeconds(policy: Policy): number {
  return Math.max(2, Math.ceil(policy.heartbeatTimeoutSeconds));
}

export class UnknownNodeEndpointError extends Error {
  override readonly name = 'UnknownNodeEndpointError';
}

function endpoint(cluster: ClusterRecoveryState, nodeId: string): NodeEndpoint {
  const node = cluster.nodes.find((n) => n.nodeId === nodeId);
  if (!node) {
    throw new UnknownNodeEndpointError(
      `no endpoint configured for ${nodeId} (cluster nodes: ${cluster.nodes.map((n) => n.nodeId).join(', ') || 'none'})`,
    );
  }
  return { nodeId: node.nodeId, url: node.url };
}

/**
 * The runbook steps (functions/core/runbook.ts describes the flows). Each step reads fresh state, acts,
 * records itself on the incident once per execution, notifies when a human should know, and returns the
 * state with `next` set for the state machine's Choice.
 */
export function createSteps(deps: StepDeps) {
  const record = async (
    state: RunbookState,
    step: string,
    detail: string,
    options: {
      change?: Record<string, unknown>;
      notify?: boolean;
      nextSteps?: string[];
      /** Records the step once per distinct `once` instead of once per execution (a re-armed run's waits). */
      once?: string;
    } = {},
  ): Promise<Incident> => {
    const { incident, fresh } = await deps.recovery.recordStep(
      state.clusterId,
      state.incidentId,
      state.openedAt,
      { at: deps.clock(), execution: state.executionName, step, detail },
      options.change,
      options.once === undefined ? undefined : `${state.executionName}/${step}/${options.once}`,
    );
    deps.logger.info('runbook step', {
      incidentId: state.incidentId,
      clusterId: state.clusterId,
      step,
      detail,
      fresh,
    });
    // A retried step publishes the same id again (`incidentId#revision`): subscribers deduplicate on it.
    if (options.notify)
      await deps.notifier.publish(runbookNotification(incident, step, detail, options.nextSteps));
    return incident;
  };

  /** The engine of `nodeId`: the one the switchover's Check noted, else from the node items. */
  const engineOf = async (state: RunbookState, nodeId: string): Promise<Engine> => {
    if (state.engine !== undefined) return state.engine;
    const snapshot = await deps.nodes.loadCluster(state.clusterId);
    return snapshot.nodes.get(nodeId)?.engine ?? [...snapshot.nodes.values()][0]?.engine ?? 'generic';
  };

  const runHook = async (
    state: RunbookState,
    cluster: ClusterRecoveryState,
    action: HookAction,
    target: string,
    primary: string | undefined,
  ): Promise<HookResult> => {
    const engine = await engineOf(state, target);
    return deps.hooks.run(
      {
        action,
        clusterId: state.clusterId,
        engine,
        incidentId: state.incidentId,
        epoch: state.epoch ?? cluster.epoch,
        target: endpoint(cluster, target),
        ...(primary ? { primary: endpoint(cluster, primary) } : {}),
      },
      cluster.hooks[action],
    );
  };

  /** After a hook: go on, or await its SSM Automation execution and resume at `resume`. */
  const afterHook = (
    state: RunbookState,
    result: HookResult,
    resume: string,
  ): Omit<RunbookState, 'next'> & { next: 'ssm' | 'done' } =>
    result.status === 'started'
      ? { ...state, next: 'ssm', ssm: { executionId: result.ssmExecutionId }, resume }
      : { ...state, next: 'done' };

  const switchover = (state: RunbookState) => state.runbook === 'primary-switchover';

  /** A manual failover's request (an operator asked: it is the decision), undefined for an automatic run. */
  const failoverRequest = (state: RunbookState) =>
    state.runbook === 'primary-failover' ? state.requested : undefined;

  /**
   * Whether this failover's incident already moved the epoch and still holds the lock: a run started again
   * (`recover`) on a half-done failover, which goes on from where it stopped instead of starting anew.
   */
  const resuming = (state: RunbookState, cluster: ClusterRecoveryState) =>
    state.runbook === 'primary-failover' && halfDoneBy(cluster) === state.incidentId;

  /** The switchover rules' view of the cluster, leaving out the lock `incidentId` itself holds. */
  const switchoverContext = async (state: RunbookState) => {
    const [cluster, snapshot] = await Promise.all([
      deps.recovery.getCluster(state.clusterId),
      deps.nodes.loadCluster(state.clusterId),
    ]);
    return { context: switchoverContextOf(cluster, snapshot.nodes, state.incidentId), cluster };
  };

  /** A switchover that ends without touching anything more: recorded, announced, the incident closed. */
  const switchoverEnded = async (state: RunbookState, step: string, detail: string) => {
    await record(state, step, detail, {
      notify: true,
      change: { outcome: detail, state: 'RESOLVED', resolvedAt: deps.clock() },
    });
    return detail;
  };

  /** A replica-recovery run whose lock a failover took: it stops, touching nothing more. */
  const preempted = async (
    state: RunbookState,
    cluster: ClusterRecoveryState,
  ): Promise<Omit<RunbookState, 'next'> & { next: 'preempted' }> => {
    const detail = `stopped: the cluster lock now belongs to ${cluster.lockIncidentId ?? 'nobody'} (${cluster.lockRunbook ?? 'released'}); a failover takes precedence, it repoints this node`;
    // An operator's request has no node transition to close its incident: it ends here, saying why.
    await record(state, 'preempted', detail, {
      ...(nodeRequested(state)
        ? { notify: true, change: { outcome: detail, state: 'RESOLVED', resolvedAt: deps.clock() } }
        : {}),
    });
    return { ...state, next: 'preempted', outcome: detail };
  };

  /**
   * ReVerify of an operator's rejoin or rebuild: the incident is still open and the request still holds on
   * fresh state (the node may have been fixed meanwhile: the run ends "nothing to do", the incident closed
   * with that outcome). The lock is TakeLock's business (another holder: the run waits and looks again).
   * The mode does not matter: the operator's request is the decision.
   */
  const reverifyRequest = async (
    state: RunbookState,
    base: RunbookState,
    cluster: ClusterRecoveryState,
    nodes: ReadonlyMap<string, NodeState>,
    incident: Incident | undefined,
  ): Promise<StepResult<'reverify'>> => {
    if (incident !== undefined && incident.state !== 'OPEN') {
      const detail = `incident ${state.incidentId} is ${incident.state}; nothing done`;
      await record(state, 'aborted', detail);
      return { ...base, next: 'abort', outcome: `aborted: ${detail}` };
    }
    const context = nodeRequestContextOf(state.clusterId, { ...cluster, lockIncidentId: undefined }, nodes);
    const plan =
      expectedStatus(state) === 'REBUILD'
        ? planRebuild(context, state.nodeId)
        : planRejoin(context, state.nodeId);
    const by = `asked by ${state.requested?.by ?? 'an operator'}${state.requested?.reason ? ` (${state.requested.reason})` : ''}`;
    if ('refused' in plan) {
      const detail = `${plan.refused}; nothing done (${by}, re-checked on fresh state)`;
      await record(state, 'ended', detail, {
        notify: true,
        change: { outcome: detail, state: 'RESOLVED', resolvedAt: deps.clock() },
      });
      return { ...base, next: 'abort', outcome: detail };
    }
    await record(state, 'verified', `${by}: ${plan.what} (re-checked on fresh state)`, { notify: true });
    return {
      ...base,
      kind: plan.kind,
      mode: plan.kind === 'REBUILD' ? 'rebuild' : 'rejoin',
      next: 'proceed',
    };
  };

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

  const steps: {
    [A in RunbookAction]: (
      state: RunbookState,
      taskToken?: string,
    ) => Promise<A extends 'requestApproval' ? RunbookState : StepResult<A>>;
  } = {
    async reverify(state) {
      const now = deps.clock();
      const [cluster, snapshot, incident] = await Promise.all([
        deps.recovery.getCluster(state.clusterId),
        deps.nodes.loadCluster(state.clusterId),
        deps.recovery.getIncident(state.clusterId, state.incidentId, state.openedAt),
      ]);
      const node = snapshot.nodes.get(state.nodeId);
      const base = {
        ...state,
        mode: cluster.mode,
        approvalTimeoutSeconds: cluster.approvalTimeoutSeconds,
        verifyAfterSeconds: deps.verifyAfterSeconds ?? 30,
      };
      // A run the operator restarted the incident under a newer execution (a manual failover taking it
      // over, `recover`) must not act: the incident, the lock and the epoch are the new run's.
      const superseded = supersededBy(state, incident);
      if (superseded !== undefined) {
        await record(state, 'aborted', `superseded by execution ${superseded}: this run stops, nothing done`);
        return { ...base, next: 'abort', outcome: `aborted: superseded by execution ${superseded}` };
      }
      if (nodeRequested(state)) return reverifyRequest(state, base, cluster, snapshot.nodes, incident);
      let problem: string | undefined;
      const resumed = resuming(state, cluster);
      if (!node) problem = `node ${state.nodeId} is unknown`;
      else if (incident !== undefined && incident.state !== 'OPEN')
        problem = `incident ${state.incidentId} is ${incident.state}`;
      else if (resumed) {
        // Half done: this incident fenced the old primary and moved the epoch. Stopping now would leave the
        // cluster without a primary; Fence asks the old primary itself again before anything else.
      } else if (state.runbook === 'primary-failover' && notThePrimary(state, cluster) !== undefined) {
        problem = notThePrimary(state, cluster);
      } else if (state.runbook === 'primary-failover') {
        const evidence = primaryEvidence(node, [...snapshot.nodes.values()], snapshot.policy, now);
        if (evidence.kind === 'recovered') problem = evidence.reason;
        else if (evidence.kind === 'alive') {
          const retryAfterSeconds = aliveRetrySeconds(snapshot.policy);
          await record(
            state,
            `waiting: ${evidence.reason}`,
            `${evidence.reason}: not failing over a node that may be alive; looking again in ${retryAfterSeconds}s`,
          );
          return { ...base, next: 'wait', retryAfterSeconds };
        }
      } else if (node.status !== expectedStatus(state))
        problem = `${state.nodeId} is ${node.status} now, no longer ${expectedStatus(state)}`;
      // An operator's failover request is the decision, in any mode; so is resuming a half-done failover.
      if (cluster.mode === 'off' && failoverRequest(state) === undefined && !resumed)
        problem = 'the cluster mode is off';
      if (problem) {
        await record(state, 'aborted', `re-verification failed: ${problem}; nothing done`, { notify: true });
        return { ...base, next: 'abort', outcome: `aborted: ${problem}` };
      }
      await record(
        state,
        'verified',
        resumed
          ? `resuming the failover this incident began: it moved the epoch to ${cluster.epoch} and holds the lock; ${state.nodeId} is ${node?.status ?? 'unknown'} (it is asked again before anything is done)`
          : `re-verified with fresh state: ${node?.statusReason ?? ''}`,
      );
      return { ...base, next: 'proceed' };
    },

    async takeLock(state) {
      const now = deps.clock();
      const cluster = await deps.recovery.getCluster(state.clusterId);
      // What the operator's request lifts: a rejoin or rebuild is held by neither a pause nor maintenance,
      // a manual failover by no pause (and with force no cooldown).
      // Resuming a half-done failover (its own lock, the epoch moved) is not held either: the cluster may
      // have no primary until it finishes.
      const lift: LockRequest =
        nodeRequested(state) || resuming(state, cluster)
          ? { ignorePause: true, ignoreMaintenance: true }
          : lockRequestOf(failoverRequest(state));
      if (
        await deps.recovery.takeLock(
          state.clusterId,
          state.incidentId,
          now,
          cluster.policy.recoveryBlockSeconds,
          state.runbook,
          lift,
        )
      ) {
        const holder =
          cluster.lockIncidentId !== undefined && cluster.lockIncidentId !== state.incidentId
            ? await deps.recovery.findIncident(state.clusterId, cluster.lockIncidentId)
            : undefined;
        const preempted = cluster.lockIncidentId !== undefined && cluster.lockIncidentId !== state.incidentId;
        await record(
          state,
          'locked',
          `took the cluster lock (epoch ${cluster.epoch})${preempted ? ` (preempting replica recovery ${cluster.lockIncidentId}${holder ? ` of ${holder.nodeId}: it is not promoted, a rebuild may be wiping it` : ''})` : ''}`,
        );
        // The node a preempted replica recovery was acting on is not a candidate: its run may have started a
        // rebuild hook that is wiping it (preemption stops the run between steps, not a hook under way).
        return {
          ...state,
          next: 'locked',
          epoch: cluster.epoch,
          ...(holder ? { preemptedNodeId: holder.nodeId } : {}),
        };
      }
      const fresh = await deps.recovery.getCluster(state.clusterId);
      const verdict = lockVerdict(fresh, state.incidentId, now, state.runbook, lift);
      const reason = verdict.ok ? 'the lock changed hands while it was taken' : verdict.reason;
      if (switchover(state)) {
        // An operator's request is not queued behind a recovery or the cooldown: it is refused, now.
        const detail = await switchoverEnded(
          state,
          'refused',
          `switchover refused: ${reason}; nothing touched`,
        );
        return { ...state, next: 'blocked', outcome: detail };
      }
      const retryAfterSeconds = rearmSeconds(verdict, fresh.policy, now);
      const until = new Date(now + retryAfterSeconds * 1000).toISOString();
      // One record (and one notification) per distinct reason, however often the run re-arms.
      await record(state, 'waiting', `waiting: ${reason}; looking again at ${until}`, {
        notify: true,
        change: { outcome: `waiting: ${reason}` },
        once: reason,
      });
      return { ...state, next: 'blocked', outcome: `waiting: ${reason}`, retryAfterSeconds };
    },

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

    async recordDryRun(state) {
      await record(
        state,
        'dry-run',
        state.runbook === 'primary-failover'
          ? `dry run: would fence ${state.nodeId}, promote ${state.candidate}${state.repoint?.length ? ` and repoint ${state.repoint.join(', ')}` : ''}; nothing was touched`
          : switchover(state)
            ? `dry run: would stop writes on ${state.nodeId}, wait until ${state.candidate} has applied its final position, promote ${state.candidate}, make ${state.nodeId} follow it${state.repoint?.length ? ` and repoint ${state.repoint.join(', ')}` : ''}; nothing was touched`
            : `dry run: would restart replication on ${state.nodeId}; nothing was touched`,
        {
          notify: true,
          change: {
            outcome: 'dry run: nothing touched',
            ...(switchover(state) ? { state: 'RESOLVED', resolvedAt: deps.clock() } : {}),
          },
        },
      );
      return { ...state, next: 'done', outcome: 'dry run' };
    },

    async requestApproval(state, taskToken) {
      if (!taskToken) throw new Error('requestApproval needs the task token ($$.Task.Token)');
      const incident = await deps.recovery.getIncident(state.clusterId, state.incidentId, state.openedAt);
      const risk = planFor(incident, state.candidate)?.dataAtRisk;
      const what =
        state.runbook === 'primary-failover'
          ? `promote ${state.candidate} and repoint ${state.repoint?.join(', ') || 'no other replica'}${risk ? ` (${risk})` : ''}`
          : switchover(state)
            ? `switch the primary role over from ${state.nodeId} to ${state.candidate} (writes stop for the catch-up; no acknowledged write is lost)`
            : `${REJOIN_KINDS.includes(expectedStatus(state)) ? 'move' : 'restart replication on'} ${state.nodeId}${REJOIN_KINDS.includes(expectedStatus(state)) ? ' under the recorded primary' : ''}`;
      await record(
        state,
        'approval-requested',
        `approval needed to ${what}; expires in ${state.approvalTimeoutSeconds}s (expiry = reject)`,
        {
          notify: true,
          change: { approvalToken: taskToken },
          nextSteps: [
            `Approve: npx replica-sentinel approve ${state.incidentId} --cluster ${state.clusterId}`,
            `Reject: npx replica-sentinel reject ${state.incidentId} --cluster ${state.clusterId}`,
          ],
        },
      );
      return state;
    },

    async applyApproval(state) {
      const decision = state.approval;
      const approved = decision?.approved === true;
      const detail = `${approved ? 'approved' : 'rejected'} by ${decision?.by ?? 'unknown'}${decision?.reason ? `: ${decision.reason}` : ''}`;
      await record(state, approved ? 'approved' : 'rejected', detail, {
        notify: true,
        change: {
          approvalToken: undefined,
          ...(approved ? {} : { outcome: detail }),
          ...(!approved && switchover(state) ? { state: 'RESOLVED', resolvedAt: deps.clock() } : {}),
        },
      });
      return { ...state, next: approved ? 'approved' : 'rejected', ...(approved ? {} : { outcome: detail }) };
    },

    async recordExpired(state) {
      const detail = `approval expired after ${state.approvalTimeoutSeconds}s: treated as rejected; nothing was touched`;
      await record(state, 'expired', detail, {
        notify: true,
        change: {
          approvalToken: undefined,
          outcome: detail,
          ...(switchover(state) ? { state: 'RESOLVED', resolvedAt: deps.clock() } : {}),
        },
      });
      return { ...state, next: 'done', outcome: detail };
    },

    async fence(state) {
      const now = deps.clock();
      const [cluster, snapshot] = await Promise.all([
        deps.recovery.getCluster(state.clusterId),
        deps.nodes.loadCluster(state.clusterId),
      ]);
      const old = snapshot.nodes.get(state.nodeId);
      const resumed = resuming(state, cluster);
      const stop = async (
        step: 'aborted-alive' | 'fence-refused',
        detail: string,
        retryAfterSeconds: number,
        notify: boolean,
      ) => {
        // Half done (the epoch moved, maybe a candidate promoted): the lock stays held for a human.
        if (resumed)
          throw new Error(`${detail}; the failover is half done (epoch ${cluster.epoch}): a human must look`);
        await deps.recovery.releaseLock(state.clusterId, state.incidentId);
        await record(state, step, `${detail}; the lock is released, looking again in ${retryAfterSeconds}s`, {
          notify,
          change: { outcome: detail },
        });
        return {
          ...state,
          next: step === 'fence-refused' ? ('refused' as const) : ('abort' as const),
          outcome: detail,
          retryAfterSeconds,
        };
      };
      // 0. Still this run's to act on, and still the primary's failover (another run may have moved the
      // primary role meanwhile). A superseded run neither releases the lock nor records an outcome: both
      // belong to the run that superseded it.
      const incident = await deps.recovery.getIncident(state.clusterId, state.incidentId, state.openedAt);
      const superseded = supersededBy(state, incident);
      if (superseded !== undefined)
        return { ...state, next: 'abort', outcome: `aborted: superseded by execution ${superseded}` };
      const moved = resumed ? undefined : notThePrimary(state, cluster);
      if (moved !== undefined)
        return stop(
          'aborted-alive',
          `not fenced: ${moved}; nothing done`,
          aliveRetrySeconds(snapshot.policy),
          true,
        );
      // 1. Fresh evidence: the DEAD verdict must still hold (an approval may have come minutes later). A
      // resumed run fenced the node already (FENCED): the server's own answer below decides.
      if (old && !resumed) {
        const evidence = primaryEvidence(old, [...snapshot.nodes.values()], snapshot.policy, now);
        if (evidence.kind !== 'dead') {
          return stop(
            'aborted-alive',
            `not fenced: ${evidence.reason}; nothing done`,
            aliveRetrySeconds(snapshot.policy),
            true,
          );
        }
      }
      // 2. The precondition on the server itself, just before acting.
      const engine = old?.engine ?? [...snapshot.nodes.values()][0]?.engine ?? 'generic';
      const answer = await deps.hooks.serving(engine, endpoint(cluster, state.nodeId), state.clusterId);
      if (answer.state === 'writable') {
        return stop(
          'aborted-alive',
          `not fenced: ${state.nodeId} answers as a writable primary (${answer.detail}): it is alive; nothing done`,
          aliveRetrySeconds(snapshot.policy),
          true,
        );
      }
      const outOfBand = cluster.hooks.fenceUnreachable;
      let how: string;
      if (answer.state !== 'unknown') how = `checked on the server: ${answer.detail}`;
      else if (outOfBand) how = `${answer.detail}: fenced out of band by the fenceUnreachable hook`;
      else if (cluster.fencing === 'trust-quorum')
        how = `${answer.detail}: the quorum's DEAD verdict is trusted (fencing: trust-quorum); if it still takes writes from clients that reach it, they are lost when it is demoted on its return`;
      else {
        const retryAfterSeconds = Math.max(5, Math.ceil(snapshot.policy.heartbeatTimeoutSeconds));
        return stop(
          'fence-refused',
          `failover refused: ${state.nodeId} cannot be proven fenced (${answer.detail}) and may still take writes. ` +
            'With fencing: strict a failover needs the old primary to answer as not writable or to refuse connections, ' +
            'or a fenceUnreachable hook (stop the instance, cut its security group). Configure one, set fencing: ' +
            'trust-quorum to accept the risk, or fail over by hand',
          retryAfterSeconds,
          true,
        );
      }
      // 3. The fencing token moves exactly once, before anything is promoted (a resumed run's incident
      // moved it already: it goes on under that epoch).
      // The epoch records the candidate it moves for, in the same write: Promote and a resumed run use that.
      if (!state.candidate) throw new Error('fence: no candidate in the state');
      const epoch = resumed
        ? cluster.epoch
        : await deps.recovery.bumpEpoch(
            state.clusterId,
            state.incidentId,
            state.epoch ?? cluster.epoch,
            state.nodeId,
            state.candidate,
          );
      const next = { ...state, epoch };
      // 4. A hook acts outside the database when the node could not be asked, or when one is configured.
      let result: HookResult | undefined;
      if (answer.state === 'unknown' && outOfBand)
        result = await runHook(next, cluster, 'fenceUnreachable', state.nodeId, state.candidate);
      else if (cluster.hooks.fence !== undefined && cluster.hooks.fence.type !== 'builtin')
        result = await runHook(next, cluster, 'fence', state.nodeId, state.candidate);
      if (old && old.status !== 'FENCED') {
        const fenced = withTransition(
          {
            ...old,
            status: 'FENCED',
            statusSince: deps.clock(),
            statusReason: `fenced at epoch ${epoch} by incident ${state.incidentId}: ${how}`,
            version: old.version + 1,
          },
          old,
        );
        await deps.nodes.putNode(fenced); // a concurrent heartbeat may win; the epoch is what fences
      }
      await record(next, 'fenced', `epoch ${epoch}: ${how}${result ? `; ${result.detail}` : ''}`);
      return result ? afterHook(next, result, 'Promote') : { ...next, next: 'done' };
    },

    async promote(state) {
      let cluster = await deps.recovery.getCluster(state.clusterId);
      let current = state;
      if (switchover(state)) {
        // The switchover's fencing token moves here, once, just before the candidate is promoted: the old
        // primary takes no writes and the candidate has applied its final position.
        if (cluster.lockIncidentId !== state.incidentId)
          throw new Error(
            `promote: the cluster lock is held by ${cluster.lockIncidentId ?? 'nobody'}, not this switchover`,
          );
        // Writes stopped too long ago (a step timed out and was retried): the promotion and the old primary's
        // demotion might not end before a Redis pause does. Called off, unless this run already moved the
        // epoch (a retried Promote): then the candidate may be promoted already, and only going on is safe.
        const tooLate =
          cluster.epochIncidentId === state.incidentId ? undefined : promoteTooLate(state, deps.clock());
        if (tooLate !== undefined) {
          await record(
            state,
            'promote-refused',
            `${state.candidate ?? 'the candidate'} not promoted: ${tooLate}`,
          );
          return { ...state, next: 'called-off', outcome: tooLate };
        }
        if (!state.candidate) throw new Error('promote: no candidate in the state');
        const epoch = await deps.recovery.bumpEpoch(
          state.clusterId,
          state.incidentId,
          state.epoch ?? cluster.epoch,
          state.nodeId,
          state.candidate,
        );
        current = { ...state, epoch };
        // bumpEpoch wrote it on condition of this run's lock and the epoch it read: no need to read it back.
        cluster = { ...cluster, epoch, epochCandidate: state.candidate };
      }
      assertEpoch(cluster.epoch, current.epoch);
      if (!current.candidate) throw new Error('promote: no candidate in the state');
      // Only the candidate the epoch moved for may be promoted (unset only for an epoch moved before it was
      // recorded): a run holding another choice fails here, the lock held, and `recover` resumes with it.
      if (cluster.epochCandidate !== undefined && cluster.epochCandidate !== current.candidate)
        throw new Error(
          `promote: the epoch ${cluster.epoch} was moved for ${cluster.epochCandidate}, not ${current.candidate}: refusing to promote ${current.candidate}`,
        );
      const result = await runHook(current, cluster, 'promote', current.candidate, undefined);
      await record(
        current,
        'promoted',
        `${switchover(state) ? `epoch ${current.epoch}: ` : ''}${result.detail}`,
      );
      return afterHook(current, result, 'UpdateCluster');
    },

    async updateCluster(state) {
      if (!state.candidate || state.epoch === undefined)
        throw new Error('updateCluster: no candidate or epoch in the state');
      // The two reads go along with the write of the new primary (a switchover's writes are stopped meanwhile).
      const [, incident, snapshot] = await Promise.all([
        deps.recovery.setPrimary(state.clusterId, state.incidentId, state.epoch, state.candidate),
        deps.recovery.getIncident(state.clusterId, state.incidentId, state.openedAt),
        deps.nodes.loadCluster(state.clusterId),
      ]);
      // Its node item says primary from now on, not only after its first report as one: a new primary killed
      // right after its promotion must be judged (and failed over) as a primary.
      const promoted = snapshot.nodes.get(state.candidate);
      await Promise.all([
        deps.recovery.recordEpoch(failoverEpoch(state, incident, deps.clock())),
        promoted && promoted.role !== 'primary'
          ? // A conflict means a heartbeat wrote it first: that report says what the node is.
            deps.nodes.putNode(
              withTransition({ ...promoted, role: 'primary', version: promoted.version + 1 }, promoted),
            )
          : undefined,
      ]);
      await record(state, 'cluster-updated', `primary is now ${state.candidate} at epoch ${state.epoch}`);
      return { ...state, next: 'done' };
    },

    async repoint(state) {
      const cluster = await deps.recovery.getCluster(state.clusterId);
      assertEpoch(cluster.epoch, state.epoch);
      const handled = new Set(state.repointed ?? []);
      const details: string[] = [];
      for (const replica of state.repoint ?? []) {
        if (handled.has(replica)) continue;
        handled.add(replica);
        let result: HookResult;
        try {
          result = await runHook(state, cluster, 'repoint', replica, state.candidate);
        } catch (error) {
          // The new primary is on record: a replica left behind is a WRONG_SOURCE node, repointed by its own
          // recovery; one unreachable replica must not fail the failover of the others.
          const detail = `repoint of ${replica} failed (${(error as Error).message}); it stays on the old primary until its own recovery repoints it`;
          await record(state, `repoint-failed-${replica}`, detail, { notify: true });
          details.push(detail);
          continue;
        }
        if (result.status === 'started') {
          await record(state, `repoint-${replica}`, result.detail);
          return {
            ...state,
            repointed: [...handled],
            next: 'ssm',
            ssm: { executionId: result.ssmExecutionId },
            resume: 'Repoint',
          };
        }
        details.push(result.detail);
      }
      await record(state, 'repointed', details.join('; ') || 'no other replica to repoint');
      return { ...state, repointed: [...handled], next: 'done' };
    },

    async verify(state) {
      const cluster = await deps.recovery.getCluster(state.clusterId);
      if (!state.candidate) throw new Error('verify: no candidate in the state');
      const snapshot = await deps.nodes.loadCluster(state.clusterId);
      const engine = snapshot.nodes.get(state.candidate)?.engine ?? 'generic';
      await deps.hooks.verifyPrimary(engine, endpoint(cluster, state.candidate), state.clusterId);
      await record(state, 'verified-primary', `${state.candidate} reports itself primary and accepts writes`);
      return { ...state, next: 'done' };
    },

    async complete(state) {
      const now = deps.clock();
      const failover = state.runbook === 'primary-failover';
      const paged = state.outcome?.startsWith('paged') === true;
      const risk = failover
        ? planFor(
            await deps.recovery.getIncident(state.clusterId, state.incidentId, state.openedAt),
            state.candidate,
          )?.dataAtRisk
        : undefined;
      const detail = failover
        ? `recovered: ${state.candidate} promoted at epoch ${state.epoch}${state.repoint?.length ? `, ${state.repoint.join(', ')} repointed` : ''}; ${state.nodeId} fenced${risk ? `; ${risk}` : ''}`
        : switchover(state)
          ? `switched over: ${state.candidate} is the primary at epoch ${state.epoch} (it had applied ${state.nodeId}'s final position ${state.finalPosition ?? '?'} before its promotion: no acknowledged write lost); ${state.outcome ?? `${state.nodeId} follows it`}${state.repoint?.length ? `; ${state.repoint.join(', ')} repointed` : ''}`
          : paged
            ? `${state.outcome}: the incident stays open for a human`
            : nodeRequested(state)
              ? `${expectedStatus(state) === 'REBUILD' ? 'rebuilt' : 'rejoined'}: ${state.nodeId} replicates from ${targetPrimary(state, await deps.recovery.getCluster(state.clusterId), (await deps.nodes.loadCluster(state.clusterId)).nodes) ?? 'the primary'} (asked by ${state.requested?.by ?? 'an operator'})`
              : `recovered: ${state.nodeId} is applying changes again`;
      await record(state, 'completed', detail, {
        notify: true,
        change: paged ? { outcome: detail } : { outcome: detail, state: 'RESOLVED', resolvedAt: now },
      });
      // Only a failover starts the cluster's cooldown (recoveryBlockSeconds): it guards against primaries
      // ping-ponging. A replica that was restarted must not block the failover of a primary that dies next.
      await deps.recovery.releaseLock(
        state.clusterId,
        state.incidentId,
        failover && !paged ? now : undefined,
      );
      return { ...state, next: 'done', outcome: detail };
    },

    async noCandidate(state) {
      // Refused, not ended: a replica that reported late may be eligible at the next look, and an operator may
      // change the configuration; the run pages once and looks again until the primary is back or a safe
      // candidate exists.
      const snapshot = await deps.nodes.loadCluster(state.clusterId);
      const retryAfterSeconds = Math.max(5, Math.ceil(2 * snapshot.policy.heartbeatTimeoutSeconds));
      const detail = `failover refused, nothing fenced or promoted: ${state.outcome ?? ''}. A human must decide; looking again every ${retryAfterSeconds}s`;
      await deps.recovery.releaseLock(state.clusterId, state.incidentId);
      await record(state, 'no-candidate', detail, { notify: true, change: { outcome: detail } });
      return { ...state, next: 'refused', outcome: detail, retryAfterSeconds };
    },

    async releaseLock(state) {
      await deps.recovery.releaseLock(state.clusterId, state.incidentId);
      await record(state, 'released', 'released the cluster lock');
      return { ...state, next: 'done' };
    },

    async restartReplication(state) {
      const cluster = await deps.recovery.getCluster(state.clusterId);
      if (cluster.lockIncidentId !== state.incidentId) return preempted(state, cluster);
      const snapshot = await deps.nodes.loadCluster(state.clusterId);
      const replica = snapshot.nodes.get(state.nodeId);
      const engine = replica?.engine ?? 'generic';
      const actedAt = deps.clock();
      if (REJOIN_KINDS.includes(expectedStatus(state))) {
        const primary = targetPrimary(state, cluster, snapshot.nodes);
        if (primary === undefined || primary === state.nodeId)
          throw new HookFailedError(
            `${state.nodeId} cannot be moved under the recorded primary: the cluster has ${primary === undefined ? 'no recorded primary' : 'it as its recorded primary'}`,
          );
        const steps: string[] = [];
        if (expectedStatus(state) === 'SPLIT_BRAIN') {
          // Demote: Redis REPLICAOF the recorded primary; MySQL/MariaDB read-only; PostgreSQL read-only with
          // sessions ended (it cannot follow a new timeline without pg_rewind or a rebuild).
          const fenced = await runHook(state, cluster, 'fence', state.nodeId, primary);
          steps.push(fenced.detail);
          if (fenced.status === 'started') {
            await record(state, 'demoted', steps.join(' '));
            return { ...afterHook(state, fenced, 'WaitForProgress'), actedAt };
          }
        }
        if (expectedStatus(state) === 'WRONG_SOURCE' || engine === 'mysql' || engine === 'mariadb') {
          const repointed = await runHook(state, cluster, 'repoint', state.nodeId, primary);
          steps.push(repointed.detail);
          await record(state, 'rejoined', steps.join(' '), { notify: true });
          return { ...afterHook(state, repointed, 'WaitForProgress'), actedAt };
        }
        await record(state, 'demoted', steps.join(' '), { notify: true });
        return { ...state, next: 'done', actedAt };
      }
      const primary =
        replica?.sourceNodeId ??
        cluster.primaryNodeId ??
        [...snapshot.nodes.values()].find((n) => n.role === 'primary')?.nodeId;
      const baseline = await deps.hooks
        .replicationProgress(engine, endpoint(cluster, state.nodeId), state.clusterId)
        .catch(() => undefined);
      const result = await runHook(state, cluster, 'restartReplication', state.nodeId, primary);
      await record(state, 'restarted', result.detail);
      return { ...afterHook(state, result, 'WaitForProgress'), ...(baseline ? { baseline } : {}), actedAt };
    },

    async verifyProgress(state) {
      const cluster = await deps.recovery.getCluster(state.clusterId);
      const snapshot = await deps.nodes.loadCluster(state.clusterId);
      const node = snapshot.nodes.get(state.nodeId);
      if (judgedOnReports(state)) {
        // Fresh reports of the node since the run acted: it must replicate from the recorded primary.
        const primary = targetPrimary(state, cluster, snapshot.nodes);
        const actedAt = state.actedAt ?? 0;
        const rejoined = rejoinedUnder(node, primary, actedAt);
        // No report since the run acted, or one a probe read just before the action took effect, is no
        // verdict yet: look again, until the node has had heartbeatTimeoutSeconds to report (it would be
        // SILENT by then anyway).
        if (!rejoined && deps.clock() < actedAt + rejoinReportSeconds(snapshot.policy) * 1000)
          return { ...state, next: 'not-yet' };
        const detail = rejoined
          ? `${state.nodeId} now replicates from ${primary} (reported ${node?.statusReason ?? ''})`
          : `${state.nodeId} does not report replicating from ${primary ?? 'the recorded primary'} yet (role ${node?.role ?? 'unknown'}, source ${node?.sourceNodeId ?? 'none'}, status ${node?.status ?? 'unknown'})`;
        await record(state, rejoined ? 'progressing' : 'not-progressing', detail);
        return { ...state, next: rejoined ? 'recovered' : 'not-recovered' };
      }
      const engine = node?.engine ?? 'generic';
      const now = await deps.hooks
        .replicationProgress(engine, endpoint(cluster, state.nodeId), state.clusterId)
        .catch(() => undefined);
      const advanced = now !== undefined && now !== state.baseline;
      const detail = advanced
        ? `${state.nodeId} applied position moved from ${state.baseline ?? 'unknown'} to ${now}`
        : `${state.nodeId} made no progress (applied ${now ?? 'unknown'})`;
      await record(state, advanced ? 'progressing' : 'not-progressing', detail);
      return { ...state, next: advanced ? 'recovered' : 'not-recovered' };
    },

    async escalate(state) {
      const cluster = await deps.recovery.getCluster(state.clusterId);
      if (cluster.lockIncidentId !== state.incidentId) return preempted(state, cluster);
      const escalations = (state.escalations ?? 0) + 1;
      const rebuild = cluster.hooks.rebuild;
      const primary = targetPrimary(state, cluster, (await deps.nodes.loadCluster(state.clusterId)).nodes);
      if (rebuild && rebuild.type !== 'builtin' && escalations === 1) {
        const result = await runHook(state, cluster, 'rebuild', state.nodeId, primary);
        await record(state, 'rebuild', result.detail, { notify: true });
        const after = afterHook({ ...state, escalations, actedAt: deps.clock() }, result, 'WaitForProgress');
        return after.next === 'done' ? { ...after, next: 'rebuilt' } : { ...after, next: 'ssm' };
      }
      const what =
        expectedStatus(state) === 'SPLIT_BRAIN'
          ? `${state.nodeId} was demoted but does not follow ${primary ?? 'the recorded primary'}${escalations > 1 ? ' after a rebuild' : ''} (a PostgreSQL server needs pg_rewind or a rebuild hook to rejoin)`
          : expectedStatus(state) === 'WRONG_SOURCE'
            ? `${state.nodeId} still does not replicate from ${primary ?? 'the recorded primary'} after it was repointed${escalations > 1 ? ' and rebuilt' : ''}`
            : expectedStatus(state) === 'REBUILD'
              ? `${state.nodeId} does not replicate from ${primary ?? 'the recorded primary'}${escalations > 1 ? ' after the rebuild hook ran' : ' and the rebuild hook is gone'}`
              : `${state.nodeId} did not recover after restarting replication${escalations > 1 ? ' and a rebuild' : ''}`;
      const detail = `paged: ${what}; no rebuild hook left to try`;
      await record(state, 'paged', detail, { notify: true });
      return { ...state, escalations, next: 'paged', outcome: detail };
    },

    async checkSwitchover(state) {
      const { context, cluster } = await switchoverContext(state);
      const incident = await deps.recovery.getIncident(state.clusterId, state.incidentId, state.openedAt);
      const base = {
        ...state,
        mode: cluster.mode,
        approvalTimeoutSeconds: cluster.approvalTimeoutSeconds,
        verifyAfterSeconds: deps.verifyAfterSeconds ?? 30,
      };
      const plan = planSwitchover(context, state.requested?.to);
      const problem =
        incident !== undefined && incident.state !== 'OPEN'
          ? `incident ${state.incidentId} is ${incident.state}`
          : !plan.ok
            ? plan.reason
            : plan.primary !== state.nodeId
              ? `the primary is ${plan.primary} now, not ${state.nodeId}`
              : undefined;
      if (problem !== undefined || !plan.ok) {
        const detail = await switchoverEnded(
          state,
          'refused',
          `switchover refused: ${problem ?? ''}; nothing touched`,
        );
        return { ...base, next: 'refused', outcome: detail };
      }
      await record(
        state,
        'checked',
        `switchover asked by ${state.requested?.by ?? 'unknown'}${state.requested?.reason ? ` (${state.requested.reason})` : ''}: from ${state.nodeId} to ${plan.candidate}${state.requested?.dryRun ? ', dry run' : ''}`,
        { notify: true },
      );
      const engine = context.nodes.get(state.nodeId)?.engine;
      return { ...base, candidate: plan.candidate, ...(engine ? { engine } : {}), next: 'proceed' };
    },

    async stopWrites(state) {
      const cluster = await deps.recovery.getCluster(state.clusterId);
      if (cluster.lockIncidentId !== state.incidentId)
        throw new Error(
          `stopWrites: the cluster lock is held by ${cluster.lockIncidentId ?? 'nobody'}, not this switchover`,
        );
      if (!state.candidate) throw new Error('stopWrites: no candidate in the state');
      // Asked before the writes stop: nothing but the servers is between the pause and the final position.
      const engine = await engineOf(state, state.nodeId);
      // Taken before the hook acts: the pause is never older than this says (Promote's bound counts from it).
      const writesStoppedAt = deps.clock();
      const result = await runHook(
        { ...state, engine },
        cluster,
        'stopWrites',
        state.nodeId,
        state.candidate,
      );
      const catchUpDeadline = deps.clock() + SWITCHOVER_CATCH_UP_SECONDS * 1000;
      if (result.status === 'started') {
        await record(state, 'writes-stopping', result.detail);
        return { ...afterHook(state, result, 'AwaitCatchUp'), catchUpDeadline, writesStoppedAt };
      }
      // The final position is read after the writes stopped: every acknowledged write is at or before it.
      // Without it the switchover cannot go on: called off (writes restored), never left with writes stopped.
      let problem = 'it reports none';
      const finalPosition = await deps.hooks
        .replicationProgress(engine, endpoint(cluster, state.nodeId), state.clusterId)
        .catch((error: unknown) => {
          problem = errorMessage(error);
          return undefined;
        });
      if (finalPosition === undefined) {
        const why = `the final position of ${state.nodeId} could not be read once its writes stopped (${problem})`;
        await record(state, 'writes-stopped', `${result.detail} ${why}.`);
        return { ...state, catchUpDeadline, writesStoppedAt, next: 'called-off', outcome: why };
      }
      await record(state, 'writes-stopped', `${result.detail} Final position ${finalPosition}.`, {
        notify: true,
      });
      return { ...state, finalPosition, catchUpDeadline, writesStoppedAt, next: 'done' };
    },

    async awaitCatchUp(state) {
      if (!state.candidate) throw new Error('awaitCatchUp: no candidate in the state');
      const [cluster, engine] = await Promise.all([
        deps.recovery.getCluster(state.clusterId),
        engineOf(state, state.candidate),
      ]);
      const finalPosition =
        state.finalPosition ??
        (await deps.hooks.replicationProgress(engine, endpoint(cluster, state.nodeId), state.clusterId));
      if (finalPosition === undefined) throw new Error(`awaitCatchUp: ${state.nodeId} reports no position`);
      const candidate = endpoint(cluster, state.candidate);
      // The candidate is asked every SWITCHOVER_CATCH_UP_POLL_MS, each answer awaited at most
      // SWITCHOVER_CATCH_UP_LOOK_MS, and no new look starts after SWITCHOVER_POLL_SECONDS of wall time or past
      // the catch-up deadline; then the state machine's Wait takes over until the deadline. A hung candidate
      // costs a second per invocation, never the Lambda's timeout (a retry would outlast a Redis pause).
      const looksUntil = catchUpLooksUntil(deps.clock(), state.catchUpDeadline);
      let applied: string | undefined;
      let problem: string | undefined;
      let verdict: boolean | undefined = false;
      for (;;) {
        problem = undefined;
        applied = await withDeadline(
          deps.hooks.replicationProgress(engine, candidate, state.clusterId),
          SWITCHOVER_CATCH_UP_LOOK_MS,
          () => new Error(`${state.candidate} gave no answer within ${SWITCHOVER_CATCH_UP_LOOK_MS} ms`),
        ).catch((error: unknown) => {
          problem = errorMessage(error);
          return undefined;
        });
        verdict = applied === undefined ? false : caughtUp(engine, finalPosition, applied);
        if (verdict !== false || deps.clock() >= looksUntil) break;
        await new Promise((resolve) => setTimeout(resolve, SWITCHOVER_CATCH_UP_POLL_MS));
      }
      if (verdict === true) {
        await record(
          state,
          'caught-up',
          `${state.candidate} has applied ${applied} (the final position of ${state.nodeId} is ${finalPosition})`,
        );
        return { ...state, finalPosition, next: 'caught-up' };
      }
      const now = deps.clock();
      const deadline = state.catchUpDeadline ?? now;
      if (verdict === undefined || now >= deadline) {
        const why =
          verdict === undefined
            ? `${state.candidate}'s position ${applied} cannot be compared with ${state.nodeId}'s final position ${finalPosition} (another replication history)`
            : `${state.candidate} had applied ${applied ?? `nothing it could report (${problem ?? 'no position'})`}, not ${state.nodeId}'s final position ${finalPosition}, after ${SWITCHOVER_CATCH_UP_SECONDS}s`;
        await record(state, 'catch-up-timed-out', why);
        return { ...state, finalPosition, next: 'timed-out', outcome: why };
      }
      return { ...state, finalPosition, next: 'waiting', waitSeconds: SWITCHOVER_POLL_SECONDS };
    },

    async resumeWrites(state) {
      const cluster = await deps.recovery.getCluster(state.clusterId);
      const result = await runHook(state, cluster, 'resumeWrites', state.nodeId, undefined);
      const detail = await switchoverEnded(
        state,
        'called-off',
        `switchover called off: ${state.outcome ?? 'the candidate did not catch up'}. ${result.detail} Nothing else changed.`,
      );
      return { ...state, next: 'done', outcome: detail };
    },

    async demoteOld(state) {
      const cluster = await deps.recovery.getCluster(state.clusterId);
      assertEpoch(cluster.epoch, state.epoch);
      if (!state.candidate) throw new Error('demoteOld: no candidate in the state');
      const engine = await engineOf(state, state.nodeId);
      let detail: string;
      let result: HookResult | undefined;
      if (engine === 'redis') {
        // REPLICAOF the new primary while still paused, then unpause: held writes now meet a replica (READONLY).
        const demoted = await runHook(state, cluster, 'fence', state.nodeId, state.candidate);
        if (demoted.status === 'started')
          return { ...afterHook(state, demoted, 'Repoint'), outcome: demoted.detail };
        const resumed = await runHook(state, cluster, 'resumeWrites', state.nodeId, undefined);
        detail = `${demoted.detail} ${resumed.detail}`;
      } else if (engine === 'mysql' || engine === 'mariadb') {
        // Still read-only since StopWrites; now it replicates from the new primary by GTID.
        result = await runHook(state, cluster, 'repoint', state.nodeId, state.candidate);
        detail = result.detail;
      } else if (cluster.hooks.rebuild !== undefined && cluster.hooks.rebuild.type !== 'builtin') {
        result = await runHook(state, cluster, 'rebuild', state.nodeId, state.candidate);
        detail = `rebuild hook: ${result.detail}`;
      } else {
        detail = `${state.nodeId} stays read-only (writes stopped) and does not follow ${state.candidate}: a ${engine} server rejoins as a standby only through a rebuild hook (or by hand: stop it, configure it as a standby of ${state.candidate}, start it)`;
      }
      await record(state, 'old-primary', detail, { notify: true });
      const outcome = detail;
      return result === undefined
        ? { ...state, next: 'done', outcome }
        : { ...afterHook(state, result, 'Repoint'), outcome };
    },

    async markFailed(state) {
      const error = state.error
        ? `${state.error.Error ?? 'Error'}: ${String(state.error.Cause ?? '').slice(0, 500)}`
        : // A Choice default leads here without an error: say what the flow held instead.
          `the flow could not route next=${state.next ?? '(none)'} mode=${state.mode ?? '(none)'} resume=${state.resume ?? '(none)'}${state.ssm?.execution ? ` ssm=${state.ssm.execution.AutomationExecutionStatus}` : ''}`;
      // A run that has fenced nothing (no epoch of its own) leaves nothing half done: it releases the lock, so
      // the next trouble of the cluster is handled. One that moved the epoch leaves the lock to a human.
      const cluster = await deps.recovery.getCluster(state.clusterId);
      const fenced = state.runbook !== 'replica-recovery' && cluster.epochIncidentId === state.incidentId;
      // A switchover that failed before it promoted anything gives the old primary its writes back.
      let restored = '';
      if (
        switchover(state) &&
        !fenced &&
        cluster.lockIncidentId === state.incidentId &&
        (state.finalPosition !== undefined || state.writesStoppedAt !== undefined)
      ) {
        restored = await runHook(state, cluster, 'resumeWrites', state.nodeId, undefined)
          .then((r) => ` ${r.detail}`)
          .catch(
            (e: unknown) =>
              ` Writes could NOT be restored on ${state.nodeId} (${(e as Error).message}): a human must.`,
          );
      }
      if (!fenced) await deps.recovery.releaseLock(state.clusterId, state.incidentId);
      const detail = fenced
        ? `runbook failed: ${error}. It had ${switchover(state) ? `moved the epoch to ${cluster.epoch} to promote ${state.candidate ?? 'the candidate'}` : `fenced ${state.nodeId} at epoch ${cluster.epoch}`}: the cluster lock stays held; a human must look, then clear it.`
        : `runbook failed: ${error}. Nothing was fenced or promoted; the cluster lock is released.${restored}`;
      await record(state, 'failed', detail, { notify: true, change: { state: 'FAILED', outcome: detail } });
      return { ...state, next: 'failed', outcome: detail };
    },
  };

  return async (input: StepInput): Promise<RunbookState> => {
    const step = steps[input.action];
    if (!step) throw new Error(`unknown runbook action '${String(input.action)}'`);
    return step(input.state, input.taskToken);
  };
}
