import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { RunbookState } from '../core/runbook';
import { createSteps, type StepDeps, type StepInput } from './steps';

/** The runbook-steps handler: one Task of a runbook state machine, `{ action, state, taskToken? }` in, state out. */
export function createHandler(deps: Omit<StepDeps, 'logger'>, options: { logger?: Logger } = {}) {
  const logger = options.logger ?? new Logger({ serviceName: 'runbook-steps' });
  const run = createSteps({ ...deps, logger });
  return middy(async (input: StepInput): Promise<RunbookState> => {
    logger.appendKeys({
      incidentId: input.state?.incidentId,
      clusterId: input.state?.clusterId,
      action: input.action,
    });
    return run(input);
  }).use(injectLambdaContext(logger, { resetKeys: true }));
}
