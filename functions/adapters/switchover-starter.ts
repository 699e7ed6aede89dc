import type { Incident, OperatorRequest } from '../core/incidents';
import { planSwitchover, switchoverContextOf, switchoverIncident } from '../core/switchover';
import type { NodeStateStore } from './node-state-store';
import type { RecoveryStore } from './recovery-store';
import type { RunbookLauncher } from './runbooks';

/** A request the rules refuse before anything is written (the operator API answers 409, the CLI exits 2). */
export class RequestRefusedError extends Error {
  override readonly name = 'RequestRefusedError';
  readonly status = 409;
}

export interface SwitchoverStarterDeps {
  readonly recovery: Pick<RecoveryStore, 'getCluster'>;
  readonly nodes: Pick<NodeStateStore, 'loadCluster'>;
  readonly incidents: { create(incident: Incident): Promise<void> };
  readonly launcher: RunbookLauncher;
  readonly clock: () => number;
}

export interface SwitchoverStarted {
  readonly incidentId: string;
  readonly openedAt: number;
  readonly from: string;
  readonly to: string;
  readonly executionArn?: string;
  readonly note: string;
}

/**
 * An operator's switchover: the rules are asked on the state the monitor has now (a refused request writes
 * nothing), then the SWITCHOVER incident is written and the primary-switchover runbook started on it. The
 * runbook asks the same rules again, on fresh state, before it touches a server.
 */
export async function startSwitchover(
  deps: SwitchoverStarterDeps,
  clusterId: string,
  request: OperatorRequest,
): Promise<SwitchoverStarted> {
  const [cluster, snapshot] = await Promise.all([
    deps.recovery.getCluster(clusterId),
    deps.nodes.loadCluster(clusterId),
  ]);
  if (snapshot.nodes.size === 0)
    throw new RequestRefusedError(`unknown cluster ${clusterId}: no node has reported`);
  const plan = planSwitchover(switchoverContextOf(cluster, snapshot.nodes), request.to);
  if (!plan.ok) throw new RequestRefusedError(`switchover refused: ${plan.reason}`);
  const primary = snapshot.nodes.get(plan.primary);
  if (primary === undefined) throw new RequestRefusedError(`the primary ${plan.primary} has never reported`);
  const incident = switchoverIncident(clusterId, primary, { ...request, to: plan.candidate }, deps.clock());
  await deps.incidents.create(incident);
  const started = await deps.launcher.start(incident);
  return {
    incidentId: incident.incidentId,
    openedAt: incident.openedAt,
    from: plan.primary,
    to: plan.candidate,
    ...(started.executionArn ? { executionArn: started.executionArn } : {}),
    note: started.note,
  };
}
