/**
 * Runs the recovery runbooks locally (tests, local mode) from the state machines the CDK app synthesizes:
 * there is no second, hand-written copy of the flow. The definitions come from `loadRunbookDefinitions()`
 * (local/runbook-definitions.ts); `runRunbook()` runs one with aws-local-stepfunctions, every Task
 * overridden by a local handler (local/runbook-task-handlers.ts).
 *
 * What aws-local-stepfunctions 3.0.0 does, and what this runner adds (checked against its build, Node 20):
 * - Node 20: every Task state calls `Promise.withResolvers()` (Node 22+), missing there (see
 *   local/step-functions-workarounds.ts). That module, which this one imports, installs the standard
 *   polyfill when the function is missing; with it the package works on Node 20 (checked: all the flows
 *   below).
 * - Task overrides (`taskResourceLocalHandlers`, keyed by state name) receive the effective input (after
 *   Parameters, so `$$.Task.Token` and `state.$` are resolved) and their result goes through ResultSelector
 *   and ResultPath as in AWS. Without an override a Task invokes real AWS Lambda, so the runner derives a
 *   handler for EVERY Task from its Resource (runbook-steps function ARN; `lambda:invoke.waitForTaskToken`
 *   of runbook-steps; `aws-sdk:ssm:getAutomationExecution`) and refuses a definition with any other Task.
 * - Retry / Catch match `ErrorEquals` against `error.name` (plus States.ALL; States.TaskFailed for
 *   anything but a timeout): a local step must throw an Error whose `name` is the error name, e.g.
 *   `NotYetPrimaryError` (its class sets `name`). Thrown errors are re-thrown the way Lambda reports them:
 *   `Error` = the error's name, `Cause` = `{"errorType","errorMessage"}` as JSON.
 * - `.waitForTaskToken` is not supported by the engine, which only awaits the override. The RequestApproval
 *   handler therefore invokes runbook-steps with `{ action, state, taskToken }` (its result is ignored, as
 *   in AWS) and then awaits `approvals(taskToken, state)`: the decision becomes the task's result (placed
 *   at `$.approval`), a rejected promise is a SendTaskFailure (error name and message kept).
 * - `$$.Task.Token` resolves only from the context object given to `run()`: the runner passes a token per
 *   execution (`local-task-token:<runbook>:<uuid>`; AWS makes one per task attempt).
 * - `TimeoutSecondsPath` is supported but evaluated against the EFFECTIVE input (after Parameters); AWS
 *   evaluates it against the state input, where `$.approvalTimeoutSeconds` is. The runner removes it from
 *   the definition handed to the engine and applies it in the handler (the payload's `state` is the state
 *   input, checked when the definition is loaded): when the timeout elapses before `approvals` settles, the
 *   task fails with `States.Timeout` (Catch → Expired) and the `signal` given to `approvals` is aborted. A
 *   missing or non-positive timeout fails the execution with States.Runtime, uncatchable, as in AWS.
 * - A Task without TimeoutSeconds gets the engine's default of 60 s (AWS has none). Steps tasks get the
 *   runbook-steps function's own timeout from the template instead, the bound Lambda puts on them in AWS
 *   (there the error is Lambda's timeout error, here States.Timeout; both go to MarkFailed).
 * - Choice: `"IsPresent": false` (any `"IsX": false` type test) never matches in the engine, so a missing
 *   field would fall through to the next rule and fail there. The runner hands the engine the equivalent
 *   `"Not": { "IsPresent": true }` (the definition keeps AWS's idiomatic form; negatedTypeTests in
 *   local/step-functions-workarounds.ts).
 * - Wait `Seconds` / `SecondsPath`, other Choice rules (Or, Not, StringEquals), ResultPath null,
 *   `waitTimeOverrides` and `retryIntervalOverrides` work as documented; event logs give the path.
 *
 * @example
 * const result = await runRunbook('primary-failover', input, {
 *   steps: (payload) => stepsHandler(payload, context),
 *   approvals: (taskToken) => decisions.next(taskToken),
 *   waitTimeOverrides: { WaitForProgress: 0, WaitForSsm: 0 },
 * });
 * result.states; // ['ReVerify', 'TakeLock', 'ChooseCandidate', 'Fence', ..., 'Done']
 */
import { randomUUID } from 'node:crypto';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  type RunOptions,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import type { RunbookName } from '../functions/core/incidents';
import type { ApprovalDecision, RunbookState } from '../functions/core/runbook';
import { ROUTING_COMMENT_PREFIX } from '../infra/runbook-routing';
import { loadRunbookDefinitions, RUNBOOK_STEPS_FUNCTION_ARN } from './runbook-definitions';
import {
  awaitApproval,
  getAutomationExecution,
  invokeSteps,
  MAX_TIMER_SECONDS,
} from './runbook-task-handlers';
import { isRecord, type Json, toJson } from './step-functions-json';
import { negatedTypeTests } from './step-functions-workarounds';

/** What runbook-steps is invoked with. */
export interface StepsPayload {
  action: string;
  state: RunbookState;
  /** Only for `requestApproval`: the token the decision must be sent back with. */
  taskToken?: string;
}

/** Options of {@link runRunbook}. */
export interface RunRunbookOptions {
  /** Runs one step, as the runbook-steps Lambda does; resolves with the new state, throws a named error. */
  readonly steps: (payload: StepsPayload) => Promise<unknown>;
  /**
   * The human decision for a RequestApproval task: resolves when someone decides (SendTaskSuccess), rejects
   * for SendTaskFailure. When the state's `approvalTimeoutSeconds` elapses first, the task fails with
   * States.Timeout and `signal` is aborted (stop waiting then).
   */
  readonly approvals: (
    taskToken: string,
    state: RunbookState,
    signal: AbortSignal,
  ) => Promise<ApprovalDecision>;
  /**
   * `ssm:GetAutomationExecution` for the SSM wait loop. Needed only by runs that reach GetSsm; a thrown
   * error is reported as `Ssm.<name>` (with the Exception suffix), as Step Functions names SDK errors.
   */
  readonly getAutomationExecution?: (
    executionId: string,
  ) => Promise<{ AutomationExecution: { AutomationExecutionStatus: string } }>;
  /** Milliseconds to wait in Wait states instead of their definition, by state name (e.g. `WaitForSsm: 0`). */
  readonly waitTimeOverrides?: Readonly<Record<string, number>>;
  /** Milliseconds between retries instead of the Retry intervals, by state name (number or per retrier). */
  readonly retryIntervalOverrides?: Readonly<Record<string, number | number[]>>;
  /** Aborts the execution (status ABORTED); pending approvals see their signal aborted. */
  readonly signal?: AbortSignal;
}

/** How a run ended, as Step Functions reports an execution. */
export interface RunbookRun {
  readonly status: 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  /** The final state (SUCCEEDED only). */
  readonly output?: RunbookState;
  /** Why it failed (FAILED only): the error of the Fail state or of the failing task. */
  readonly error?: { readonly Error: string; readonly Cause: string };
  /**
   * The states entered, in order, as the contract names them (functions/core/runbook.ts): the routing
   * Choices that only branch on a step's result are left out (see infra/runbook-routing.ts).
   */
  readonly states: readonly string[];
  /** Every state entered, in order, routing Choices included. */
  readonly allStates: readonly string[];
}

/**
 * Runs one runbook from its synthesized definition: every Task calls `options.steps` (or `approvals`,
 * `getAutomationExecution`), with Step Functions' retry, catch, timeout and wait behaviour.
 */
export async function runRunbook(
  name: RunbookName,
  input: RunbookState,
  options: RunRunbookOptions,
): Promise<RunbookRun> {
  const { definitions, stepsTimeoutSeconds } = await loadRunbookDefinitions();
  const definition = definitions[name];
  const taskToken = `local-task-token:${name}:${randomUUID()}`;
  const pending = new Set<AbortController>();
  const { engineDefinition, handlers } = emulate(name, definition, options, { stepsTimeoutSeconds, pending });

  const execution = new StateMachine(engineDefinition, {
    validationOptions: { checkPaths: true, checkArn: true },
  }).run(toJson(input), {
    overrides: {
      taskResourceLocalHandlers: handlers,
      ...(options.waitTimeOverrides === undefined
        ? {}
        : { waitTimeOverrides: { ...options.waitTimeOverrides } }),
      ...(options.retryIntervalOverrides === undefined
        ? {}
        : { retryIntervalOverrides: { ...options.retryIntervalOverrides } }),
    },
    context: { Task: { Token: taskToken } },
  } satisfies RunOptions);

  const onAbort = () => execution.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted === true) execution.abort();

  const entered = collectEnteredStates(execution.eventLogs);
  let run: Omit<RunbookRun, 'states' | 'allStates'>;
  try {
    const output = await execution.result;
    run = { status: 'SUCCEEDED', output: asRunbookState(output) };
  } catch (error) {
    if (error instanceof ExecutionAbortedError) run = { status: 'ABORTED' };
    else if (error instanceof ExecutionTimeoutError) run = { status: 'TIMED_OUT' };
    else if (error instanceof ExecutionError) run = { status: 'FAILED', error: errorInfo(error.cause) };
    else throw error;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    // Whatever still waits for a decision stops now: the execution is over.
    for (const controller of pending) controller.abort();
  }
  const allStates = await entered;
  const routing = routingStates(definition);
  return { ...run, allStates, states: allStates.filter((state) => !routing.has(state)) };
}

// ---------------------------------------------------------------------------------------------------------
// Emulating the Task resources

type Handler = (input: Json) => Promise<Json>;

const CALLBACK_RESOURCE = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
const GET_AUTOMATION_EXECUTION_RESOURCE = 'arn:aws:states:::aws-sdk:ssm:getAutomationExecution';

/**
 * The definition handed to the engine (TimeoutSecondsPath moved into the handler, Lambda timeouts made
 * explicit) and a handler for every Task, chosen by its Resource.
 */
function emulate(
  runbook: RunbookName,
  definition: StateMachineDefinition,
  options: RunRunbookOptions,
  runtime: { stepsTimeoutSeconds: number; pending: Set<AbortController> },
): { engineDefinition: StateMachineDefinition; handlers: Record<string, Handler> } {
  const handlers: Record<string, Handler> = {};
  const states: Record<string, unknown> = {};
  for (const [name, state] of Object.entries(definition.States)) {
    const where = `runbook-runner: ${runbook} state ${name}`;
    if (state.Type === 'Map' || state.Type === 'Parallel') {
      throw new Error(`${where} is a ${state.Type} state, which the runner does not emulate`);
    }
    if (state.Type === 'Choice') {
      states[name] = { ...state, Choices: state.Choices.map((rule) => negatedTypeTests(rule)) };
      continue;
    }
    if (state.Type !== 'Task') {
      states[name] = state;
      continue;
    }
    const raw = state as unknown as Record<string, unknown>;
    const parameters = isRecord(raw.Parameters) ? raw.Parameters : {};
    if (state.Resource === RUNBOOK_STEPS_FUNCTION_ARN) {
      handlers[name] = async (input) => toJson(await invokeSteps(options, input, where));
      states[name] = { ...state, TimeoutSeconds: state.TimeoutSeconds ?? runtime.stepsTimeoutSeconds };
    } else if (
      state.Resource === CALLBACK_RESOURCE &&
      parameters.FunctionName === RUNBOOK_STEPS_FUNCTION_ARN
    ) {
      const payload = isRecord(parameters.Payload) ? parameters.Payload : {};
      const timeoutPath = raw.TimeoutSecondsPath;
      if (payload['state.$'] !== '$' || raw.InputPath !== undefined || typeof timeoutPath !== 'string') {
        throw new Error(
          `${where}: the runner applies TimeoutSecondsPath to the payload's state, which must be the whole state input ` +
            "(Payload 'state.$': '$', no InputPath)",
        );
      }
      handlers[name] = (input) =>
        awaitApproval(options, input, { where, timeoutPath, pending: runtime.pending });
      const { TimeoutSecondsPath: _applied, ...rest } = raw;
      states[name] = { ...rest, TimeoutSeconds: MAX_TIMER_SECONDS };
    } else if (state.Resource === GET_AUTOMATION_EXECUTION_RESOURCE) {
      handlers[name] = (input) => getAutomationExecution(options, input, where);
      states[name] = state;
    } else {
      throw new Error(
        `${where} has Resource ${state.Resource}, which the runner cannot emulate (it would call AWS): ` +
          'add its emulation to local/runbook-runner.ts',
      );
    }
  }
  return {
    engineDefinition: { ...definition, States: states as StateMachineDefinition['States'] },
    handlers,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Results, events

function errorInfo(cause: unknown): { Error: string; Cause: string } {
  if (cause instanceof Error) return { Error: cause.name, Cause: cause.message };
  return { Error: 'Error', Cause: String(cause) };
}

async function collectEnteredStates(events: AsyncGenerator<{ type: string; state?: { name: string } }>) {
  const names: string[] = [];
  for await (const event of events) {
    if (event.type === 'StateEntered' && event.state !== undefined) names.push(event.state.name);
  }
  return names;
}

function routingStates(definition: StateMachineDefinition): Set<string> {
  return new Set(
    Object.entries(definition.States)
      .filter(
        ([, state]) => state.Type === 'Choice' && state.Comment?.startsWith(ROUTING_COMMENT_PREFIX) === true,
      )
      .map(([name]) => name),
  );
}

function asRunbookState(value: unknown): RunbookState {
  if (!isRecord(value))
    throw new Error(`runbook-runner: the runbook ended with ${JSON.stringify(value)}, not a state`);
  return value as unknown as RunbookState;
}
