/**
 * What the steps share to act: recording a step on the incident (logged, announced when asked), the engine of
 * a node, running a recovery hook and going on after it, and the switchover's view of the cluster and its
 * ending without touching anything more.
 */
import type { HookResult } from '../core/hooks';
import type { Incident } from '../core/incidents';
import { runbookNotification } from '../core/notification';
import type { Engine } from '../core/position';
import type { ClusterRecoveryState } from '../core/recovery';
import type { HookAction, RunbookState } from '../core/runbook';
import { switchoverContextOf } from '../core/switchover';
import { endpoint } from './node-endpoint';
import type { StepDeps } from './step-deps';

/** The helpers every step group acts through, bound to the steps' dependencies. */
export function createStepTools(deps: StepDeps) {
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

  return { record, engineOf, runHook, afterHook, switchoverContext, switchoverEnded };
}

export type StepTools = ReturnType<typeof createStepTools>;
