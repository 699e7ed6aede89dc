/**
 * The steps that move the primary role: Fence the old primary (failover), Promote the candidate under a
 * new epoch, UpdateCluster, Repoint the other replicas, Verify the new primary. The switchover runs all
 * but Fence.
 */
import { primaryEvidence } from '../core/evidence';
import type { HookResult } from '../core/hooks';
import { withTransition } from '../core/node-state';
import { failoverEpoch } from '../core/operator';
import { assertEpoch } from '../core/recovery';
import { promoteTooLate } from '../core/switchover';
import { endpoint } from './node-endpoint';
import { aliveRetrySeconds, notThePrimary, resuming, supersededBy, switchover } from './run-state';
import type { RunbookSteps, StepDeps } from './step-deps';
import type { StepTools } from './step-tools';

/** Fence, Promote, UpdateCluster, Repoint and Verify. */
export function failoverSteps(
  deps: StepDeps,
  tools: StepTools,
): Pick<RunbookSteps, 'fence' | 'promote' | 'updateCluster' | 'repoint' | 'verify'> {
  const { record, runHook, afterHook } = tools;

  return {
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
  };
}
