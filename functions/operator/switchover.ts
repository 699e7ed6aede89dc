import {
  RequestRefusedError,
  type SwitchoverStarterDeps,
  startSwitchover,
} from '../adapters/switchover-starter';
import { type OperationRequest, type OperationResult, OperatorError } from '../core/operator-routes';

/**
 * `POST /clusters/{clusterId}/switchover`: asks the switchover rules on the monitor's state (a refusal is
 * a 409 with the reason, nothing written), then opens the SWITCHOVER incident and starts its runbook.
 */
export async function switchoverOperation(
  deps: SwitchoverStarterDeps | undefined,
  request: OperationRequest<'switchover'>,
): Promise<OperationResult> {
  if (deps === undefined) throw new OperatorError('this operator API cannot start switchovers', 409);
  try {
    const started = await startSwitchover(deps, request.params.clusterId, {
      by: request.caller.id,
      reason: request.body.reason,
      to: request.body.to,
      ...(request.body.dryRun ? { dryRun: true } : {}),
    });
    return {
      ...started,
      clusterId: request.params.clusterId,
      message: `${started.incidentId}: switchover${request.body.dryRun ? ' (dry run)' : ''} from ${started.from} to ${started.to} started`,
    };
  } catch (error) {
    if (error instanceof RequestRefusedError) throw new OperatorError(error.message, 409);
    throw error;
  }
}
