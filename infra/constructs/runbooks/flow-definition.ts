/**
 * A runbook's state machine definition from its flow (functions/core/runbook-flows.ts): the flow's states,
 * built with {@link RunbookFlow}, and their routes.
 */
import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { type IChainable, type TaskStateBase, Wait, WaitTime } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { Flow, FlowState } from '../../../functions/core/runbook-flows';
import { RunbookFlow } from './runbook-flow';

/**
 * The states of `flow` (functions/core/runbook-flows.ts), built in their own scope: a Task per task state
 * (a `…Outcome` Choice after it when it branches on `$.next`), the approval task, Waits, Choices, the SSM
 * wait loop and Done. Nothing here decides a route: the table does.
 */
export function definitionFrom(
  scope: Construct,
  scopeId: string,
  stepsFunction: IFunction,
  flow: Flow<string>,
): IChainable {
  const runbookFlow = new RunbookFlow(scope, scopeId, stepsFunction);
  const states = new Map<string, IChainable>();
  const entries = Object.entries(flow.states) as [string, FlowState<string>][];
  const target = (name: string): IChainable => {
    const state = states.get(name);
    if (state === undefined) throw new Error(`${scopeId}: no state ${name} (yet) for a route`);
    return state;
  };
  // 1. States that need no other state to exist: Tasks, Waits, Done.
  for (const [name, spec] of entries) {
    if (spec.type === 'task') {
      const task = runbookFlow.task(name, spec.action);
      if (spec.retryNotYetPrimary)
        task.addRetry({
          errors: ['NotYetPrimaryError'],
          interval: Duration.seconds(2),
          backoffRate: 2,
          maxAttempts: 5,
        });
      states.set(name, task);
    } else if (spec.type === 'wait')
      states.set(name, new Wait(runbookFlow, name, { time: WaitTime.secondsPath(spec.secondsPath) }));
    else if (spec.type === 'succeed') states.set(name, runbookFlow.done);
  }
  // 2. Those that name other states when they are made: the approval task (its expiry), the SSM loop.
  for (const [name, spec] of entries) {
    if (spec.type === 'approval') states.set(name, runbookFlow.approvalTask(target(spec.expired)));
    else if (spec.type === 'ssm')
      states.set(
        name,
        runbookFlow.ssmLoop(Object.fromEntries(spec.resume.map((resume) => [resume, target(resume)]))),
      );
  }
  // 3. Choices on a field the steps set (their targets exist now).
  for (const [name, spec] of entries) {
    if (spec.type === 'choice')
      states.set(
        name,
        runbookFlow.outcome(
          name,
          Object.fromEntries(Object.entries(spec.on).map(([value, to]) => [value, target(to)])),
          { field: spec.field },
        ),
      );
  }
  // 4. The routes.
  for (const [name, spec] of entries) {
    const state = states.get(name);
    if (spec.type === 'task') {
      const task = state as TaskStateBase;
      if ('goto' in spec) task.next(target(spec.goto));
      else
        task.next(
          runbookFlow.outcome(
            `${name}Outcome`,
            Object.fromEntries(
              Object.entries(spec.on as Record<string, string>).map(([value, to]) => [value, target(to)]),
            ),
            { routes: name },
          ),
        );
    } else if (spec.type === 'approval') (state as TaskStateBase).next(target(spec.goto));
    else if (spec.type === 'wait') (state as Wait).next(target(spec.goto));
  }
  return target(flow.start);
}
