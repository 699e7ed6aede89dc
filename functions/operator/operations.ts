import type { RecoveryStore } from '../adapters/recovery-store';
import type { SwitchoverStarterDeps } from '../adapters/switchover-starter';
import type { Operations } from '../core/operator-routes';
import { decide, type TaskTokens } from './approval';
import { switchoverOperation } from './switchover';

/** What the operations read and act on (the same in AWS and in the local stack; only the adapters differ). */
export interface OperatorDeps {
  readonly recovery: Pick<RecoveryStore, 'findIncident'>;
  /** Hands a decision back to a runbook waiting for approval. */
  readonly tokens: TaskTokens;
  readonly clock: () => number;
  /** What starting a switchover needs (absent: the API refuses switchovers). */
  readonly switchover?: SwitchoverStarterDeps;
}

/**
 * The operator API's operations, one per route of functions/core/operator-routes.ts. Each gets the
 * validated path parameters and body and the caller, refuses with an OperatorError (status + one line)
 * and changes nothing when a rule says no, and answers JSON with a one-line `message`.
 */
export function createOperations(deps: OperatorDeps): Operations {
  const decision = async (
    approved: boolean,
    request: {
      params: { clusterId: string; incidentId: string };
      body: { reason?: string | undefined };
      caller: { id: string };
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
    approve: (request) => decision(true, request),
    reject: (request) => decision(false, request),
    switchover: (request) => switchoverOperation(deps.switchover, request),
  };
}
