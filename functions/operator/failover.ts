import type { IncidentStore } from '../adapters/incident-store';
import type { RunbookLauncher } from '../adapters/runbooks';
import { chooseCandidate, forcedCandidate, type NodeFailoverConfig } from '../core/candidate';
import { executionNameFor, type Incident, type OperatorRequest } from '../core/incidents';
import {
  failedPrimaryOf,
  halfDoneBy,
  manualFailoverIncident,
  planManualFailover,
  recoverRefusal,
  restartedIncident,
} from '../core/manual-failover';
import { operatorNotification } from '../core/notification';
import type { OperatorActionRecord } from '../core/operator';
import { type OperationRequest, type OperationResult, OperatorError } from '../core/operator-routes';
import type { OperatorDeps } from './operations';

/** What starting runbook runs from the operator API needs (absent: the API refuses failover and recover). */
export interface RunbookStarterDeps {
  readonly incidents: Pick<IncidentStore, 'getLatest' | 'save'>;
  /** Starts any runbook (primary-failover for a manual failover; the incident's own for `recover`). */
  readonly launcher: RunbookLauncher;
}

type Deps = OperatorDeps & { readonly runbooks?: RunbookStarterDeps };

const record = (
  deps: Deps,
  action: string,
  clusterId: string,
  by: string,
  reason: string,
  detail: string,
  extra: { incidentId?: string; nodeId?: string } = {},
): OperatorActionRecord => ({ action, clusterId, by, reason, at: deps.clock(), detail, ...extra });

/**
 * Writes the incident as restarted by `action` (conditional on its revision, read again on a concurrent
 * change: a runbook step or a node transition may write it meanwhile), then starts its next run.
 */
async function restart(
  deps: Deps & { readonly runbooks: RunbookStarterDeps },
  incident: Incident,
  action: OperatorActionRecord,
  change: Parameters<typeof restartedIncident>[2] = {},
): Promise<{ next: Incident; note: string }> {
  let current: Incident | undefined = incident;
  for (let tries = 0; tries < 5 && current !== undefined; tries++) {
    // Another operator restarted it meanwhile (its run is the incident's now): starting a second run of
    // the same incident would give two executions one lock and one epoch. Refused; nothing started.
    if ((current.attempt ?? 0) !== (incident.attempt ?? 0))
      throw new OperatorError(
        `incident ${incident.incidentId} was restarted meanwhile (now ${executionNameFor(current)}): nothing started`,
        409,
      );
    const next = restartedIncident(current, action, change);
    if (await deps.store.putIncident(next, current.revision)) {
      await deps.store.log(action);
      const started = await deps.runbooks.launcher.start(next);
      return { next, note: started.note };
    }
    current = await deps.recovery.findIncident(incident.clusterId, incident.incidentId);
  }
  throw new OperatorError(`incident ${incident.incidentId} kept changing: nothing started, try again`, 409);
}

const started = (incident: Incident, extra: Record<string, unknown>, message: string): OperationResult => ({
  clusterId: incident.clusterId,
  incidentId: incident.incidentId,
  openedAt: incident.openedAt,
  executionName: executionNameFor(incident),
  ...extra,
  message,
});

/**
 * `POST /clusters/{clusterId}/failover`: an operator's failover of a DEAD primary (functions/core/
 * manual-failover.ts): refused with 409/404 and nothing written when the rules say no; a dry run answers
 * the plan the runbook would make now and writes nothing; otherwise the open DEAD incident of the primary
 * is taken over (its run stopped, a new one started on it carrying the request) or a new one is opened.
 */
export async function failoverOperation(
  deps: Deps,
  request: OperationRequest<'failover'>,
): Promise<OperationResult> {
  const runbooks = deps.runbooks;
  if (runbooks === undefined) throw new OperatorError('this operator API cannot start failovers', 409);
  const { clusterId } = request.params;
  const { reason, to, force, dryRun } = request.body;
  if (!(await deps.store.clusterExists(clusterId)))
    throw new OperatorError(`unknown cluster '${clusterId}'`, 404);
  const [cluster, snapshot] = await Promise.all([
    deps.recovery.getCluster(clusterId),
    deps.nodes.loadCluster(clusterId),
  ]);
  const primaryId = failedPrimaryOf(cluster, snapshot.nodes);
  const latest =
    primaryId === undefined ? undefined : await runbooks.incidents.getLatest(clusterId, primaryId);
  const now = deps.clock();
  const plan = planManualFailover(
    { clusterId, cluster, nodes: snapshot.nodes, ...(latest ? { latest } : {}), now },
    { to },
  );
  if ('refused' in plan) throw new OperatorError(plan.refused, plan.status);
  const old = snapshot.nodes.get(plan.primary);
  if (old === undefined) throw new OperatorError(`the primary ${plan.primary} has never reported`, 409);

  if (dryRun) {
    // The same choice the runbook makes, on the state the monitor has now; nothing is written or started.
    const config = new Map<string, NodeFailoverConfig>(cluster.nodes.map((n) => [n.nodeId, n]));
    const nodes = [...snapshot.nodes.values()];
    const choice = chooseCandidate(nodes, plan.primary, config, snapshot.policy, now, to);
    const forced =
      choice.candidate === undefined && force
        ? forcedCandidate(nodes, plan.primary, config, snapshot.policy, now, to)
        : undefined;
    const candidate = choice.candidate ?? forced?.candidate;
    const risk = choice.atRisk.find((r) => r.nodeId === candidate)?.text;
    const message = candidate
      ? `dry run: would fence ${plan.primary} and promote ${candidate}${forced ? ` FORCED, overriding: ${choice.reason}` : ` (${choice.reason})`}; data at risk if ${candidate} is promoted: ${risk ?? 'unknown'}; nothing was touched`
      : `dry run: failover refused, nothing would be promoted: ${choice.reason}${forced ? `; forced: ${forced.reason}` : ''}`;
    return { clusterId, dryRun: true, from: plan.primary, ...(candidate ? { to: candidate } : {}), message };
  }

  const asked: OperatorRequest = {
    by: request.caller.id,
    reason,
    to,
    ...(force ? { force: true } : {}),
  };
  const what = `manual failover of the DEAD primary ${plan.primary}${to ? ` to ${to}` : ''}${force ? ' (forced: the data-at-risk gates and the cooldown do not refuse it; fencing still holds)' : ''}`;
  /** The operator's action, recorded on `incidentId`; what the run started is `detail`. */
  const failoverAction = (detail: string, incidentId: string) =>
    record(deps, 'failover', clusterId, request.caller.id, reason, `${what}: ${detail}`, {
      incidentId,
      nodeId: plan.primary,
    });
  const answer = (incident: Incident, action: OperatorActionRecord, note: string | undefined) =>
    started(
      incident,
      { from: plan.primary, ...(to ? { to } : {}), note },
      `${incident.incidentId}: ${action.detail}; started as ${executionNameFor(incident)}`,
    );
  if (plan.takeover !== undefined) {
    const takeover = plan.takeover;
    const running = await deps.executions.isRunning(takeover);
    if (running) await deps.executions.stop(takeover, `failover by ${request.caller.id}: ${reason}`);
    // The stopped run may have moved the epoch in its last step: then it is half done, and recover finishes it.
    const after = await deps.recovery.getCluster(clusterId);
    if (halfDoneBy(after) === takeover.incidentId)
      throw new OperatorError(
        `a failover is half done: incident ${takeover.incidentId} moved the epoch to ${after.epoch}: recover it (replica-sentinel recover ${takeover.incidentId})`,
        409,
      );
    const action = failoverAction(
      `takes over incident ${takeover.incidentId}${running ? ' (its runbook execution was stopped first)' : ''}`,
      takeover.incidentId,
    );
    const { next, note } = await restart({ ...deps, runbooks }, takeover, action, {
      request: asked,
      runbook: 'primary-failover',
    });
    await deps.notifier.publish(operatorNotification(action));
    return answer(next, action, note);
  }
  const incident = manualFailoverIncident(clusterId, old, asked, now);
  if ((await runbooks.incidents.save(incident, latest)) !== 'written')
    throw new OperatorError(
      `the incidents of ${plan.primary} changed meanwhile: nothing started, try again`,
      409,
    );
  const action = failoverAction(`opened incident ${incident.incidentId}`, incident.incidentId);
  await deps.store.log(action);
  const launched = await runbooks.launcher.start(incident);
  await deps.notifier.publish(operatorNotification(action));
  return answer(incident, action, launched.note);
}

/**
 * `POST /incidents/{clusterId}/{incidentId}/recover`: re-runs the incident's runbook from its start with
 * fresh evidence, on the same incident under a new execution name (functions/core/manual-failover.ts,
 * `recoverRefusal`, says when it is refused).
 */
export async function recoverOperation(
  deps: Deps,
  request: OperationRequest<'recover'>,
): Promise<OperationResult> {
  const runbooks = deps.runbooks;
  if (runbooks === undefined) throw new OperatorError('this operator API cannot start runbooks', 409);
  const { clusterId, incidentId } = request.params;
  if (!(await deps.store.clusterExists(clusterId)))
    throw new OperatorError(`unknown cluster '${clusterId}'`, 404);
  const incident = await deps.recovery.findIncident(clusterId, incidentId);
  if (!incident)
    throw new OperatorError(`incident ${incidentId} of cluster ${clusterId} does not exist`, 404);
  const cluster = await deps.recovery.getCluster(clusterId);
  const running = await deps.executions.isRunning(incident);
  const refusal = recoverRefusal(incident, cluster, running);
  if (refusal) throw new OperatorError(refusal.refused, refusal.status);
  const halfDone = halfDoneBy(cluster) === incidentId;
  const action = record(
    deps,
    'recover',
    clusterId,
    request.caller.id,
    request.body.reason,
    `re-runs ${incident.runbook} on incident ${incidentId} (${incident.kind} of ${incident.nodeId}, ${incident.state}) from its start with fresh evidence${halfDone ? `; it moved the epoch to ${cluster.epoch} and holds the lock: the run goes on with the candidate it chose` : ''}`,
    { incidentId, nodeId: incident.nodeId },
  );
  const { next, note } = await restart({ ...deps, runbooks }, incident, action);
  await deps.notifier.publish(operatorNotification(action));
  return started(next, { note }, `${incidentId}: ${action.detail}; started as ${executionNameFor(next)}`);
}
