/**
 * createSteps: every Task step of the runbooks, composed from the step groups, and the dispatch of one Task
 * invocation (`{ action, state, taskToken? }`) to the step its action names.
 */
import type { RunbookState } from '../core/runbook';
import { approvalSteps } from './approval-steps';
import { candidateStep } from './candidate-step';
import { failoverSteps } from './failover-steps';
import { lockSteps } from './lock-steps';
import { outcomeSteps } from './outcome-steps';
import { replicaRecoverySteps } from './replica-recovery-steps';
import { reverifyStep } from './reverify-step';
import type { RunbookSteps, StepDeps, StepInput } from './step-deps';
import { createStepTools } from './step-tools';
import { switchoverSteps } from './switchover-steps';

/**
 * The runbook steps (functions/core/runbook.ts describes the flows). Each step reads fresh state, acts,
 * records itself on the incident once per execution, notifies when a human should know, and returns the
 * state with `next` set for the state machine's Choice.
 */
export function createSteps(deps: StepDeps) {
  const tools = createStepTools(deps);
  const steps: RunbookSteps = {
    ...reverifyStep(deps, tools),
    ...lockSteps(deps, tools),
    ...candidateStep(deps, tools),
    ...approvalSteps(deps, tools),
    ...failoverSteps(deps, tools),
    ...replicaRecoverySteps(deps, tools),
    ...switchoverSteps(deps, tools),
    ...outcomeSteps(deps, tools),
  };

  return async (input: StepInput): Promise<RunbookState> => {
    const step = steps[input.action];
    if (!step) throw new Error(`unknown runbook action '${String(input.action)}'`);
    return step(input.state, input.taskToken);
  };
}
