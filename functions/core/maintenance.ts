import { type NodeState, withTransition } from './node-state';
import { deadlineAfterMaintenance, deadlineInMaintenance } from './silence-deadline';

/** A maintenance window as an operator sets it: until when, who, why. */
export interface MaintenanceWindow {
  readonly until: number;
  readonly by: string;
  readonly reason: string;
}

export class InvalidMaintenanceError extends Error {
  override readonly name = 'InvalidMaintenanceError';
}

/** Checks a window: it must end in the future (at most 30 days ahead) and say who and why. */
export function validateWindow(window: MaintenanceWindow, now: number): MaintenanceWindow {
  if (!Number.isFinite(window.until) || window.until <= now) {
    throw new InvalidMaintenanceError('until: the maintenance window must end in the future');
  }
  if (window.until - now > 30 * 24 * 3600 * 1000) {
    throw new InvalidMaintenanceError('until: a maintenance window may last at most 30 days');
  }
  if (window.by.trim() === '') throw new InvalidMaintenanceError('by: say who sets the maintenance');
  if (window.reason.trim() === '')
    throw new InvalidMaintenanceError('reason: say why (it is recorded and shown)');
  return window;
}

/**
 * A node entering maintenance: MAINTENANCE until the window ends (heartbeats keep its data current but
 * do not change its status; the sweep looks at it again when the window ends). Incidents are muted.
 */
export function enterMaintenance(node: NodeState, window: MaintenanceWindow, now: number): NodeState {
  const next: NodeState = {
    ...node,
    status: 'MAINTENANCE',
    statusSince: node.status === 'MAINTENANCE' ? node.statusSince : now,
    statusReason: `maintenance until ${new Date(window.until).toISOString()} by ${window.by}: ${window.reason}`,
    maintenanceUntil: window.until,
    maintenanceBy: window.by,
    maintenanceReason: window.reason,
    deadlineAt: deadlineInMaintenance(window.until),
    version: node.version + 1,
  };
  return withTransition(next, node);
}

/**
 * A node leaving maintenance early: the window ends now. Its next heartbeat judges it again (and, with no
 * heartbeat, the sweep finds it overdue).
 */
export function endMaintenance(node: NodeState, by: string, now: number): NodeState {
  const next: NodeState = {
    ...node,
    statusReason: `maintenance ended early by ${by}; judged again at the next heartbeat`,
    maintenanceUntil: now,
    deadlineAt: deadlineAfterMaintenance(node.deadlineAt, now),
    version: node.version + 1,
  };
  return withTransition(next, node);
}
