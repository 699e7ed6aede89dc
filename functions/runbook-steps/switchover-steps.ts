/**
 * The switchover's own steps: Check the operator's request, StopWrites on the old primary, AwaitCatchUp of
 * the candidate, ResumeWrites when it is called off, DemoteOld once the candidate is promoted.
 */
import { errorMessage, withDeadline } from '../adapters/hooks/connection';
import type { HookResult } from '../core/hooks';
import { assertEpoch } from '../core/recovery';
import {
  catchUpLooksUntil,
  caughtUp,
  planSwitchover,
  SWITCHOVER_CATCH_UP_LOOK_MS,
  SWITCHOVER_CATCH_UP_POLL_MS,
  SWITCHOVER_CATCH_UP_SECONDS,
  SWITCHOVER_POLL_SECONDS,
} from '../core/switchover';
import { endpoint } from './node-endpoint';
import type { RunbookSteps, StepDeps } from './step-deps';
import type { StepTools } from './step-tools';

/** CheckSwitchover, StopWrites, AwaitCatchUp, ResumeWrites and DemoteOld. */
export function switchoverSteps(
  deps: StepDeps,
  tools: StepTools,
): Pick<RunbookSteps, 'checkSwitchover' | 'stopWrites' | 'awaitCatchUp' | 'resumeWrites' | 'demoteOld'> {
  const { record, engineOf, runHook, afterHook, switchoverContext, switchoverEnded } = tools;

  return {
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
  };
}
