import type { NodeStateStore } from '../adapters/node-state-store';
import type { Notifier } from '../adapters/notifier';
import type { OperatorStore } from '../adapters/operator-store';
import type { RecoveryStore } from '../adapters/recovery-store';
import type { RunbookLauncher } from '../adapters/runbooks';
import type { Incident } from '../core/incidents';
import { operatorNotification } from '../core/notification';
import type { OperatorActionRecord } from '../core/operator';
import { type OperationRequest, type OperationResult, OperatorError } from '../core/operator-routes';
import { nodeRequestContextOf, nodeRequestIncident, planRebuild, planRejoin } from '../core/rejoin';

/** What starting an operator's rejoin or rebuild needs (absent: the API refuses them). */
export interface NodeRequestDeps {
  readonly recovery: Pick<RecoveryStore, 'getCluster'>;
  readonly nodes: Pick<NodeStateStore, 'loadCluster'>;
  readonly store: Pick<OperatorStore, 'clusterExists' | 'logRequest'>;
  readonly incidents: { create(incident: Incident): Promise<void> };
  /** Starts replica-recovery runs. */
  readonly launcher: RunbookLauncher;
  readonly notifier: Notifier;
  readonly clock: () => number;
}

/**
 * `POST /clusters/{clusterId}/nodes/{nodeId}/rejoin` and `…/rebuild`: the rules (functions/core/rejoin.ts)
 * are asked on the monitor's state (a refusal is a 404/409 with the reason, nothing written); then the
 * request is recorded on the cluster item (`operatorLog`, conditional on no run holding the lock), the
 * incident opened with who and why, its replica-recovery run started, and the request announced.
 */
export async function nodeRequestOperation(
  deps: NodeRequestDeps | undefined,
  action: 'rejoin' | 'rebuild',
  request: OperationRequest<'rejoin' | 'rebuild'>,
): Promise<OperationResult> {
  if (deps === undefined) throw new OperatorError(`this operator API cannot start a ${action}`, 409);
  const { clusterId, nodeId } = request.params;
  if (!(await deps.store.clusterExists(clusterId)))
    throw new OperatorError(`unknown cluster '${clusterId}'`, 404);
  const [cluster, snapshot] = await Promise.all([
    deps.recovery.getCluster(clusterId),
    deps.nodes.loadCluster(clusterId),
  ]);
  const context = nodeRequestContextOf(clusterId, cluster, snapshot.nodes);
  const plan = action === 'rejoin' ? planRejoin(context, nodeId) : planRebuild(context, nodeId);
  if ('refused' in plan) throw new OperatorError(plan.refused, plan.status);
  const node = snapshot.nodes.get(nodeId);
  if (node === undefined) throw new OperatorError(`unknown node ${nodeId}`, 404);
  const now = deps.clock();
  const incident = nodeRequestIncident(
    clusterId,
    node,
    plan,
    { by: request.caller.id, reason: request.body.reason },
    now,
  );
  const record: OperatorActionRecord = {
    action,
    clusterId,
    incidentId: incident.incidentId,
    nodeId,
    by: request.caller.id,
    reason: request.body.reason,
    at: now,
    detail: `${plan.what} (incident ${incident.incidentId}, replica-recovery; no approval, whatever the mode)`,
  };
  if (!(await deps.store.logRequest(record)))
    throw new OperatorError(`a run took the cluster lock of ${clusterId} meanwhile; nothing done`, 409);
  await deps.incidents.create(incident);
  const started = await deps.launcher.start(incident);
  await deps.notifier.publish(operatorNotification(record));
  return {
    ...record,
    openedAt: incident.openedAt,
    kind: incident.kind,
    primary: plan.primary,
    ...(started.executionArn ? { executionArn: started.executionArn } : {}),
    note: started.note,
    message: `${incident.incidentId}: ${action} of ${nodeId} started: ${plan.what}`,
  };
}
