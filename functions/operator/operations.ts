import type { NodeStateStore } from '../adapters/node-state-store';
import type { Notifier } from '../adapters/notifier';
import type { OperatorStore } from '../adapters/operator-store';
import type { RecoveryStore } from '../adapters/recovery-store';
import type { RunbookExecutions } from '../adapters/runbooks';
import type { SwitchoverStarterDeps } from '../adapters/switchover-starter';
import type { Incident } from '../core/incidents';
import { withTransition } from '../core/node-state';
import { operatorNotification } from '../core/notification';
import {
  acknowledged,
  ackRefusal,
  type OperatorActionRecord,
  operatorTimelineEntry,
  pauseRefusal,
  type Refusal,
  resumeRefusal,
  slackAllowed,
  unlockPlan,
} from '../core/operator';
import { type Caller, type OperationResult, type Operations, OperatorError } from '../core/operator-routes';
import { decide, type SlackAction, type TaskTokens } from './approval';
import { failoverOperation, type RunbookStarterDeps, recoverOperation } from './failover';
import { type NodeRequestDeps, nodeRequestOperation } from './node-requests';
import { switchoverOperation } from './switchover';

/** What the operations read and act on (the same in AWS and in the local stack; only the adapters differ). */
export interface OperatorDeps {
  readonly recovery: Pick<RecoveryStore, 'findIncident' | 'getCluster'>;
  readonly store: Pick<
    OperatorStore,
    | 'clusterExists'
    | 'pause'
    | 'resume'
    | 'releaseLock'
    | 'saveIncident'
    | 'noteOnIncident'
    | 'putIncident'
    | 'log'
    | 'logRequest'
  >;
  readonly nodes: Pick<NodeStateStore, 'loadCluster' | 'putNode'>;
  /** Hands a decision back to a runbook waiting for approval. */
  readonly tokens: TaskTokens;
  /** The incidents' runbook executions (is one running; stop it). */
  readonly executions: RunbookExecutions;
  /** The alerts topic: every operator action is announced there. */
  readonly notifier: Notifier;
  readonly clock: () => number;
  /** What starting a switchover needs (absent: the API refuses switchovers). */
  readonly switchover?: SwitchoverStarterDeps;
  /** What starting a rejoin or rebuild needs beyond the above (absent: the API refuses them). */
  readonly nodeRequests?: Pick<NodeRequestDeps, 'incidents' | 'launcher'>;
  /** What starting a manual failover or re-running a runbook needs (absent: the API refuses both). */
  readonly runbooks?: RunbookStarterDeps;
}

const refuse = (refusal: Refusal | undefined): void => {
  if (refusal) throw new OperatorError(refusal.refused, refusal.status);
};

/**
 * The operator API's operations, one per route of functions/core/operator-routes.ts. Each gets the
 * validated path parameters and body and the caller, refuses with an OperatorError (status + one line)
 * and changes nothing when a rule says no; what it changes records who, why and when (the cluster item's
 * `operatorLog`, the incident's timeline), is announced on the alerts topic, and it answers JSON with a
 * one-line `message`.
 */
export function createOperations(deps: OperatorDeps): Operations {
  const nodeRequestDeps: NodeRequestDeps | undefined = deps.nodeRequests && {
    ...deps.nodeRequests,
    recovery: deps.recovery,
    nodes: deps.nodes,
    store: deps.store,
    notifier: deps.notifier,
    clock: deps.clock,
  };
  const knownCluster = async (clusterId: string) => {
    if (!(await deps.store.clusterExists(clusterId)))
      throw new OperatorError(`unknown cluster '${clusterId}'`, 404);
    return deps.recovery.getCluster(clusterId);
  };
  const knownIncident = async (clusterId: string, incidentId: string): Promise<Incident> => {
    const incident = await deps.recovery.findIncident(clusterId, incidentId);
    if (!incident)
      throw new OperatorError(`incident ${incidentId} of cluster ${clusterId} does not exist`, 404);
    return incident;
  };
  const action = (
    name: string,
    clusterId: string,
    caller: Caller,
    reason: string,
    detail: string,
    extra: { incidentId?: string; nodeId?: string } = {},
  ): OperatorActionRecord => ({
    action: name,
    clusterId,
    by: caller.id,
    reason,
    at: deps.clock(),
    detail,
    ...extra,
  });
  const announce = async (record: OperatorActionRecord): Promise<OperationResult> => {
    await deps.notifier.publish(operatorNotification(record));
    return {
      ...record,
      message: `${record.clusterId}: ${record.detail} (by ${record.by}: ${record.reason})`,
    };
  };

  /** Removes a node's DATA_LOSS hold, again on a concurrent report (conditional on the version read). */
  const clearDataLoss = async (clusterId: string, nodeId: string): Promise<void> => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const node = (await deps.nodes.loadCluster(clusterId)).nodes.get(nodeId);
      if (node?.dataLossReason === undefined) return;
      const { dataLossReason: _reason, dataLossAt: _at, ...rest } = node;
      if (
        (await deps.nodes.putNode(withTransition({ ...rest, version: node.version + 1 }, node))) === 'written'
      )
        return;
    }
    throw new OperatorError(`${nodeId} kept changing: its DATA_LOSS hold is not cleared, try again`, 409);
  };

  const decision = async (
    approved: boolean,
    request: {
      params: { clusterId: string; incidentId: string };
      body: { reason?: string | undefined };
      caller: Caller;
    },
  ) => {
    const result = await decide(deps, {
      clusterId: request.params.clusterId,
      incidentId: request.params.incidentId,
      approved,
      by: request.caller.id,
      ...(request.body.reason ? { reason: request.body.reason } : {}),
    });
    return { ...result, by: request.caller.id, message: `${result.incidentId}: ${result.decision}` };
  };

  return {
    switchover: (request) => switchoverOperation(deps.switchover, request),
    rejoin: (request) => nodeRequestOperation(nodeRequestDeps, 'rejoin', request),
    rebuild: (request) => nodeRequestOperation(nodeRequestDeps, 'rebuild', request),
    failover: (request) => failoverOperation(deps, request),
    recover: (request) => recoverOperation(deps, request),
    approve: (request) => decision(true, request),
    reject: (request) => decision(false, request),

    async pause({ params: { clusterId }, body, caller }) {
      refuse(pauseRefusal(clusterId, await knownCluster(clusterId)));
      const record = action(
        'pause',
        clusterId,
        caller,
        body.reason,
        'automation paused: detection, incidents and notifications go on; runbooks wait until resume',
      );
      if (!(await deps.store.pause(record)))
        throw new OperatorError(`cluster ${clusterId} was paused meanwhile`, 409);
      return announce(record);
    },

    async resume({ params: { clusterId }, body, caller }) {
      const cluster = await knownCluster(clusterId);
      refuse(resumeRefusal(clusterId, cluster));
      const record = action(
        'resume',
        clusterId,
        caller,
        body.reason,
        `automation resumed (it was paused by ${cluster.pausedBy}: ${cluster.pausedReason}); waiting runbooks go on with fresh evidence`,
      );
      if (!(await deps.store.resume(record)))
        throw new OperatorError(`cluster ${clusterId} was resumed meanwhile`, 409);
      return announce(record);
    },

    async unlock({ params: { clusterId }, body, caller }) {
      const cluster = await knownCluster(clusterId);
      const holder =
        cluster.lockIncidentId === undefined
          ? undefined
          : await deps.recovery.findIncident(clusterId, cluster.lockIncidentId);
      const running = holder !== undefined && (await deps.executions.isRunning(holder));
      const plan = unlockPlan(clusterId, cluster, running, body.force === true);
      if ('refused' in plan) throw new OperatorError(plan.refused, plan.status);
      const detail = `released the recovery lock of incident ${plan.release} (${plan.runbook ?? 'runbook'})${plan.stop ? '; its running runbook execution was stopped (ABORTED) first' : ''}`;
      const record = action('unlock', clusterId, caller, body.reason, detail, { incidentId: plan.release });
      if (plan.stop && holder)
        await deps.executions.stop(holder, `unlock --force by ${caller.id}: ${body.reason}`);
      if (!(await deps.store.releaseLock(record, plan.release)))
        throw new OperatorError(
          `the lock of cluster ${clusterId} changed hands meanwhile: nothing released`,
          409,
        );
      if (holder)
        await deps.store.noteOnIncident(
          () => deps.recovery.findIncident(clusterId, plan.release),
          (incident) => operatorTimelineEntry(incident, record),
        );
      return announce(record);
    },

    async ack({ params: { clusterId, incidentId }, body, caller }) {
      await knownCluster(clusterId);
      const incident = await knownIncident(clusterId, incidentId);
      refuse(ackRefusal(incident));
      const cluster = await deps.recovery.getCluster(clusterId);
      const node = (await deps.nodes.loadCluster(clusterId)).nodes.get(incident.nodeId);
      const clearsDataLoss = node?.dataLossReason !== undefined;
      const detail = [
        `incident ${incidentId} (${incident.kind} of ${incident.nodeId}, ${incident.state}) closed as acknowledged`,
        ...(clearsDataLoss
          ? [`the DATA_LOSS hold on ${incident.nodeId} is cleared: its next report is judged afresh`]
          : []),
        ...(cluster.lockIncidentId === incidentId
          ? ['it still holds the cluster lock: unlock releases it']
          : []),
      ].join('; ');
      const record = action('ack', clusterId, caller, body.reason, detail, {
        incidentId,
        nodeId: incident.nodeId,
      });
      // The hold first: an ack that fails after it can simply be run again (the incident is still open).
      if (clearsDataLoss) await clearDataLoss(clusterId, incident.nodeId);
      if (!(await deps.store.saveIncident(acknowledged(incident, record), incident.revision)))
        throw new OperatorError(`incident ${incidentId} changed meanwhile: nothing closed, try again`, 409);
      return announce(record);
    },
  };
}

/**
 * A Slack Approve/Reject press (signature already verified): accepted only from a user on the allow-list
 * (the cluster's `slackAllowedUserIds`, else the stack-wide list). Anyone else is refused with a message
 * back in Slack, and the attempt is recorded on the incident's timeline and announced. Answers the Slack
 * response body (ephemeral text, the original message left as it is).
 */
export function createSlackActions(deps: OperatorDeps, stackAllowList: readonly string[]) {
  return async (press: SlackAction): Promise<{ text: string; allowed: boolean }> => {
    const cluster = await deps.recovery.getCluster(press.clusterId);
    const verb = press.approved ? 'approve' : 'reject';
    if (!slackAllowed(press.userId, cluster.slackAllowedUserIds, stackAllowList)) {
      const record: OperatorActionRecord = {
        action: 'slack-refused',
        clusterId: press.clusterId,
        incidentId: press.incidentId,
        by: press.by,
        reason: `pressed ${verb} in Slack`,
        at: deps.clock(),
        detail: `refused: Slack user ${press.userId} is not on the allow-list of cluster ${press.clusterId}; nothing was decided`,
      };
      await deps.store.noteOnIncident(
        () => deps.recovery.findIncident(press.clusterId, press.incidentId),
        (incident) => operatorTimelineEntry(incident, record),
      );
      await deps.notifier.publish(operatorNotification(record));
      return {
        allowed: false,
        text: `Refused: you (${press.userId}) are not allowed to ${verb} runbooks of ${press.clusterId}. The attempt is recorded.`,
      };
    }
    const result = await decide(deps, press);
    return { allowed: true, text: `${result.decision} by <@${press.userId}>` };
  };
}
