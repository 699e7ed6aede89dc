import type { Log } from '../adapters/log';
import type { NodeStateStore } from '../adapters/node-state-store';
import type { Notifier } from '../adapters/notifier';
import type { RecoveryStore } from '../adapters/recovery-store';
import { chooseCandidate, type NodeFailoverConfig } from '../core/candidate';
import type { HookRequest, HookResult, HookSpec, NodeEndpoint } from '../core/hooks';
import type { Incident } from '../core/incidents';
import { withTransition } from '../core/node-state';
import { runbookNotification } from '../core/notification';
import type { Engine } from '../core/position';
import { assertEpoch, type ClusterRecoveryState, lockVerdict } from '../core/recovery';
import type { HookAction, RunbookAction, RunbookState } from '../core/runbook';
import { judgePrimary } from '../core/silence';

/** What the steps need to act on the servers (functions/adapters/hooks in AWS and locally). */
export interface RecoveryHooks {
  run(request: HookRequest, spec: HookSpec | undefined): Promise<HookResult>;
  /** Resolves when the node reports itself primary and writable; throws NotYetPrimaryError otherwise. */
  verifyPrimary(engine: Engine, endpoint: NodeEndpoint, clusterId?: string): Promise<void>;
  /** The node's applied replication position, in the project's position format. */
  replicationProgress(
    engine: Engine,
    endpoint: NodeEndpoint,
    clusterId?: string,
  ): Promise<string | undefined>;
}

export interface StepDeps {
  readonly recovery: Pick<
    RecoveryStore,
    'getCluster' | 'takeLock' | 'releaseLock' | 'bumpEpoch' | 'setPrimary' | 'recordStep' | 'getIncident'
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
    options: { change?: Record<string, unknown>; notify?: boolean; nextSteps?: string[] } = {},
  ): Promise<Incident> => {
    const { incident, fresh } = await deps.recovery.recordStep(
      state.clusterId,
      state.incidentId,
      state.openedAt,
      { at: deps.clock(), execution: state.executionName, step, detail },
      options.change,
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

  const runHook = async (
    state: RunbookState,
    cluster: ClusterRecoveryState,
    action: HookAction,
    target: string,
    primary: string | undefined,
  ): Promise<HookResult> => {
    const nodes = await deps.nodes.loadCluster(state.clusterId);
    const engine = nodes.nodes.get(target)?.engine ?? [...nodes.nodes.values()][0]?.engine ?? 'generic';
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
  const afterHook = (state: RunbookState, result: HookResult, resume: string): RunbookState =>
    result.status === 'started'
      ? { ...state, next: 'ssm', ssm: { executionId: result.ssmExecutionId }, resume }
      : { ...state, next: 'done' };

  const steps: Record<RunbookAction, (state: RunbookState, taskToken?: string) => Promise<RunbookState>> = {
    async reverify(state) {
      const now = deps.clock();
      const [cluster, snapshot] = await Promise.all([
        deps.recovery.getCluster(state.clusterId),
        deps.nodes.loadCluster(state.clusterId),
      ]);
      const node = snapshot.nodes.get(state.nodeId);
      const base = {
        ...state,
        mode: cluster.mode,
        approvalTimeoutSeconds: cluster.approvalTimeoutSeconds,
        verifyAfterSeconds: deps.verifyAfterSeconds ?? 30,
      };
      let problem: string | undefined;
      if (!node) problem = `node ${state.nodeId} is unknown`;
      else if (state.runbook === 'primary-failover') {
        const verdict = judgePrimary(node, [...snapshot.nodes.values()], snapshot.policy, now);
        if (node.status !== 'DEAD' && !verdict.dead)
          problem = `${state.nodeId} is ${node.status}, not dead: ${verdict.reason}`;
      } else if (node.status !== 'STALLED')
        problem = `${state.nodeId} is ${node.status} now, no longer STALLED`;
      if (cluster.mode === 'off') problem = 'the cluster mode is off';
      if (problem) {
        await record(state, 'aborted', `re-verification failed: ${problem}; nothing done`, { notify: true });
        return { ...base, next: 'abort', outcome: `aborted: ${problem}` };
      }
      await record(state, 'verified', `re-verified with fresh state: ${node?.statusReason ?? ''}`);
      return { ...base, next: 'proceed' };
    },

    async takeLock(state) {
      const now = deps.clock();
      const cluster = await deps.recovery.getCluster(state.clusterId);
      if (
        await deps.recovery.takeLock(
          state.clusterId,
          state.incidentId,
          now,
          cluster.policy.recoveryBlockSeconds,
        )
      ) {
        await record(state, 'locked', `took the cluster lock (epoch ${cluster.epoch})`);
        return { ...state, next: 'locked', epoch: cluster.epoch };
      }
      const fresh = await deps.recovery.getCluster(state.clusterId);
      const verdict = lockVerdict(fresh, state.incidentId, now);
      const reason = verdict.ok ? 'the lock changed hands while it was taken' : verdict.reason;
      await record(state, 'blocked', `blocked: ${reason}`, {
        notify: true,
        change: { outcome: `blocked: ${reason}` },
      });
      return { ...state, next: 'blocked', outcome: `blocked: ${reason}` };
    },

    async chooseCandidate(state) {
      const [cluster, snapshot] = await Promise.all([
        deps.recovery.getCluster(state.clusterId),
        deps.nodes.loadCluster(state.clusterId),
      ]);
      const config = new Map<string, NodeFailoverConfig>(cluster.nodes.map((n) => [n.nodeId, n]));
      const nodes = [...snapshot.nodes.values()];
      const choice = chooseCandidate(nodes, state.nodeId, config, snapshot.policy, deps.clock());
      const repoint = nodes
        .filter((n) => n.nodeId !== state.nodeId && n.nodeId !== choice.candidate && n.role !== 'primary')
        .filter((n) => ['HEALTHY', 'LAGGING', 'STALLED'].includes(n.status))
        .map((n) => n.nodeId)
        .sort();
      const plan = {
        ...(choice.candidate ? { candidate: choice.candidate } : {}),
        rejected: choice.rejected,
        repoint,
        reason: choice.reason,
      };
      const rejected = choice.rejected.map((r) => `${r.nodeId}: ${r.reason}`);
      const detail = choice.candidate
        ? `plan: ${choice.reason}; repoint ${repoint.join(', ') || 'no other replica'}${rejected.length ? `; not chosen — ${rejected.join('; ')}` : ''}`
        : choice.reason;
      await record(state, 'plan', detail, { change: { plan } });
      if (!choice.candidate) return { ...state, next: 'no-candidate', outcome: choice.reason };
      return { ...state, candidate: choice.candidate, repoint, next: cluster.mode };
    },

    async recordDryRun(state) {
      await record(
        state,
        'dry-run',
        state.runbook === 'primary-failover'
          ? `dry run: would fence ${state.nodeId}, promote ${state.candidate}${state.repoint?.length ? ` and repoint ${state.repoint.join(', ')}` : ''}; nothing was touched`
          : `dry run: would restart replication on ${state.nodeId}; nothing was touched`,
        {
          notify: true,
          change: { outcome: 'dry run: nothing touched' },
        },
      );
      return { ...state, next: 'done', outcome: 'dry run' };
    },

    async requestApproval(state, taskToken) {
      if (!taskToken) throw new Error('requestApproval needs the task token ($$.Task.Token)');
      const what =
        state.runbook === 'primary-failover'
          ? `promote ${state.candidate} and repoint ${state.repoint?.join(', ') || 'no other replica'}`
          : `restart replication on ${state.nodeId}`;
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
        change: { approvalToken: undefined, ...(approved ? {} : { outcome: detail }) },
      });
      return { ...state, next: approved ? 'approved' : 'rejected', ...(approved ? {} : { outcome: detail }) };
    },

    async recordExpired(state) {
      const detail = `approval expired after ${state.approvalTimeoutSeconds}s: treated as rejected; nothing was touched`;
      await record(state, 'expired', detail, {
        notify: true,
        change: { approvalToken: undefined, outcome: detail },
      });
      return { ...state, next: 'done', outcome: detail };
    },

    async fence(state) {
      const cluster = await deps.recovery.getCluster(state.clusterId);
      const epoch = await deps.recovery.bumpEpoch(
        state.clusterId,
        state.incidentId,
        state.epoch ?? cluster.epoch,
        state.nodeId,
      );
      const snapshot = await deps.nodes.loadCluster(state.clusterId);
      const old = snapshot.nodes.get(state.nodeId);
      if (old && old.status !== 'FENCED') {
        const fenced = withTransition(
          {
            ...old,
            status: 'FENCED',
            statusSince: deps.clock(),
            statusReason: `fenced at epoch ${epoch} by incident ${state.incidentId}`,
            version: old.version + 1,
          },
          old,
        );
        await deps.nodes.putNode(fenced); // a concurrent heartbeat may win; the epoch is what fences
      }
      const next = { ...state, epoch };
      const result = await runHook(next, cluster, 'fence', state.nodeId, state.candidate);
      await record(next, 'fenced', `epoch ${epoch}: ${result.detail}`);
      return afterHook(next, result, 'Promote');
    },

    async promote(state) {
      const cluster = await deps.recovery.getCluster(state.clusterId);
      assertEpoch(cluster.epoch, state.epoch);
      if (!state.candidate) throw new Error('promote: no candidate in the state');
      const result = await runHook(state, cluster, 'promote', state.candidate, undefined);
      await record(state, 'promoted', result.detail);
      return afterHook(state, result, 'Repoint');
    },

    async repoint(state) {
      const cluster = await deps.recovery.getCluster(state.clusterId);
      assertEpoch(cluster.epoch, state.epoch);
      const details: string[] = [];
      for (const replica of state.repoint ?? []) {
        const result = await runHook(state, cluster, 'repoint', replica, state.candidate);
        if (result.status === 'started') {
          await record(state, `repoint-${replica}`, result.detail);
          return afterHook(state, result, 'UpdateCluster');
        }
        details.push(result.detail);
      }
      await record(state, 'repointed', details.join('; ') || 'no other replica to repoint');
      return { ...state, next: 'done' };
    },

    async updateCluster(state) {
      if (!state.candidate || state.epoch === undefined)
        throw new Error('updateCluster: no candidate or epoch in the state');
      await deps.recovery.setPrimary(state.clusterId, state.incidentId, state.epoch, state.candidate);
      await record(state, 'cluster-updated', `primary is now ${state.candidate} at epoch ${state.epoch}`);
      return { ...state, next: 'done' };
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
      const detail = failover
        ? `recovered: ${state.candidate} promoted at epoch ${state.epoch}${state.repoint?.length ? `, ${state.repoint.join(', ')} repointed` : ''}; ${state.nodeId} fenced`
        : paged
          ? `${state.outcome}: the incident stays open for a human`
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
      const detail = `no eligible replica, nothing promoted: ${state.outcome ?? ''}. A human must decide; the cluster lock stays held.`;
      await record(state, 'no-candidate', detail, {
        notify: true,
        change: { state: 'FAILED', outcome: detail },
      });
      return { ...state, next: 'failed', outcome: detail };
    },

    async releaseLock(state) {
      await deps.recovery.releaseLock(state.clusterId, state.incidentId);
      await record(state, 'released', 'released the cluster lock');
      return { ...state, next: 'done' };
    },

    async restartReplication(state) {
      const cluster = await deps.recovery.getCluster(state.clusterId);
      const snapshot = await deps.nodes.loadCluster(state.clusterId);
      const replica = snapshot.nodes.get(state.nodeId);
      const engine = replica?.engine ?? 'generic';
      const primary =
        replica?.sourceNodeId ??
        cluster.primaryNodeId ??
        [...snapshot.nodes.values()].find((n) => n.role === 'primary')?.nodeId;
      const baseline = await deps.hooks
        .replicationProgress(engine, endpoint(cluster, state.nodeId), state.clusterId)
        .catch(() => undefined);
      const result = await runHook(state, cluster, 'restartReplication', state.nodeId, primary);
      await record(state, 'restarted', result.detail);
      return { ...afterHook(state, result, 'WaitForProgress'), ...(baseline ? { baseline } : {}) };
    },

    async verifyProgress(state) {
      const cluster = await deps.recovery.getCluster(state.clusterId);
      const snapshot = await deps.nodes.loadCluster(state.clusterId);
      const engine = snapshot.nodes.get(state.nodeId)?.engine ?? 'generic';
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
      const escalations = (state.escalations ?? 0) + 1;
      const rebuild = cluster.hooks.rebuild;
      if (rebuild && rebuild.type !== 'builtin' && escalations === 1) {
        const result = await runHook(state, cluster, 'rebuild', state.nodeId, cluster.primaryNodeId);
        await record(state, 'rebuild', result.detail, { notify: true });
        return {
          ...afterHook({ ...state, escalations }, result, 'WaitForProgress'),
          ...(result.status === 'done' ? { next: 'rebuilt' } : {}),
        };
      }
      const detail = `paged: ${state.nodeId} did not recover after restarting replication${escalations > 1 ? ' and a rebuild' : ''}; no rebuild hook left to try`;
      await record(state, 'paged', detail, { notify: true });
      return { ...state, escalations, next: 'paged', outcome: detail };
    },

    async markFailed(state) {
      const error = state.error
        ? `${state.error.Error ?? 'Error'}: ${String(state.error.Cause ?? '').slice(0, 500)}`
        : // A Choice default leads here without an error: say what the flow held instead.
          `the flow could not route next=${state.next ?? '(none)'} mode=${state.mode ?? '(none)'} resume=${state.resume ?? '(none)'}${state.ssm?.execution ? ` ssm=${state.ssm.execution.AutomationExecutionStatus}` : ''}`;
      const detail = `runbook failed: ${error}. The cluster lock stays held: a human must look, then clear it.`;
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
