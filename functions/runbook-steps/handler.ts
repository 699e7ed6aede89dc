import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { type Metrics, noMetrics } from '../adapters/metrics';
import { publishMetrics } from '../adapters/metrics-middleware';
import type { RunbookState } from '../core/runbook';
import { runbookOutcome } from './outcome-steps';
import type { StepDeps, StepInput } from './step-deps';
import { createSteps } from './steps';

/**
 * The runbook-steps handler: one Task of a runbook state machine, `{ action, state, taskToken? }` in, state
 * out. A step that ends the runbook counts one RunbookOutcomes (and IncidentsResolved when it recovered).
 */
export function createHandler(
  deps: Omit<StepDeps, 'logger'>,
  options: { logger?: Logger; metrics?: Metrics } = {},
) {
  const logger = options.logger ?? new Logger({ serviceName: 'runbook-steps' });
  const metrics = options.metrics ?? noMetrics;
  const run = createSteps({ ...deps, logger });
  return middy(async (input: StepInput): Promise<RunbookState> => {
    logger.appendKeys({
      incidentId: input.state?.incidentId,
      clusterId: input.state?.clusterId,
      action: input.action,
    });
    const result = await run(input);
    const outcome = runbookOutcome(input.action, result);
    if (outcome !== undefined) {
      metrics.add('RunbookOutcomes', 1, { Runbook: input.state.runbook, Outcome: outcome });
      if (outcome === 'recovered') metrics.add('IncidentsResolved', 1);
    }
    return result;
  })
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(publishMetrics(metrics));
}
