/**
 * The local stand-ins for the runbooks' Task resources, which local/runbook-runner.ts hands to
 * aws-local-stepfunctions: runbook-steps invoked as Lambda would (errors reported as Lambda reports them),
 * the RequestApproval callback task with its TimeoutSecondsPath applied here, and SSM's
 * GetAutomationExecution; with the named errors the engine's Retry / Catch match on.
 */
import type { ApprovalDecision, RunbookState } from '../functions/core/runbook';
import type { RunRunbookOptions, StepsPayload } from './runbook-runner';
import { isRecord, type Json, toJson } from './step-functions-json';

/** Longest timer Node keeps (2^31 - 1 ms, about 24.8 days), in whole seconds. */
export const MAX_TIMER_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/** Calls `steps` as Lambda would run runbook-steps; a thrown error is reported as Lambda reports it. */
export async function invokeSteps(options: RunRunbookOptions, input: Json, where: string): Promise<unknown> {
  const payload = stepsPayload(input, where);
  try {
    return await options.steps(payload);
  } catch (error) {
    throw lambdaError(error);
  }
}

/**
 * The RequestApproval task: invokes runbook-steps with the task token, then awaits `approvals`; fails with
 * States.Timeout when the state input's TimeoutSecondsPath elapses first.
 */
export async function awaitApproval(
  options: RunRunbookOptions,
  input: Json,
  context: { where: string; timeoutPath: string; pending: Set<AbortController> },
): Promise<Json> {
  const envelope = isRecord(input) ? input : {};
  const payload = stepsPayload(envelope.Payload, context.where);
  if (typeof payload.taskToken !== 'string') {
    throw new StatesRuntimeError(`${context.where}: the payload has no taskToken`);
  }
  const timeoutSeconds = readPath(payload.state, context.timeoutPath);
  if (typeof timeoutSeconds !== 'number' || !Number.isInteger(timeoutSeconds) || timeoutSeconds < 1) {
    throw new StatesRuntimeError(
      `${context.where}: TimeoutSecondsPath ${context.timeoutPath} must select a positive integer in the state input; ` +
        `got ${JSON.stringify(timeoutSeconds)}`,
    );
  }
  const taskToken = payload.taskToken;
  const controller = new AbortController();
  context.pending.add(controller);
  // The timeout covers the whole task, from the Lambda invocation that hands out the token (its result is
  // not the task's result) to the decision.
  const decide = async (): Promise<ApprovalDecision> => {
    try {
      await options.steps(payload);
    } catch (error) {
      throw lambdaError(error);
    }
    return options.approvals(taskToken, payload.state, controller.signal);
  };
  try {
    const decision = await Promise.race([
      decide(),
      delay(timeoutSeconds * 1000, controller.signal).then(() => {
        throw new NamedError('States.Timeout', `Task timed out after ${timeoutSeconds} seconds`);
      }),
    ]);
    return toJson(decision);
  } finally {
    controller.abort();
    context.pending.delete(controller);
  }
}

/** `ssm:GetAutomationExecution` through `options`, its errors named as Step Functions names SDK errors. */
export async function getAutomationExecution(
  options: RunRunbookOptions,
  input: Json,
  where: string,
): Promise<Json> {
  if (options.getAutomationExecution === undefined) {
    throw new StatesRuntimeError(
      `${where} needs options.getAutomationExecution (the run reached the SSM wait loop)`,
    );
  }
  const id = isRecord(input) ? input.AutomationExecutionId : undefined;
  if (typeof id !== 'string') throw new StatesRuntimeError(`${where}: no AutomationExecutionId`);
  try {
    return toJson(await options.getAutomationExecution(id));
  } catch (error) {
    const name = error instanceof Error ? error.name : 'Error';
    const sdkName = name.startsWith('Ssm.')
      ? name
      : `Ssm.${name.endsWith('Exception') ? name : `${name}Exception`}`;
    throw new NamedError(sdkName, error instanceof Error ? error.message : String(error));
  }
}

function stepsPayload(input: unknown, where: string): StepsPayload {
  if (!isRecord(input) || typeof input.action !== 'string' || !isRecord(input.state)) {
    throw new StatesRuntimeError(
      `${where}: expected a { action, state } payload, got ${JSON.stringify(input)}`,
    );
  }
  return {
    action: input.action,
    state: input.state as unknown as RunbookState,
    ...(typeof input.taskToken === 'string' ? { taskToken: input.taskToken } : {}),
  };
}

/** An error the engine matches by `name` (Retry/Catch ErrorEquals). */
class NamedError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** States.Runtime: neither retried nor caught (the engine reads `isRetryable` / `isCatchable`). */
class StatesRuntimeError extends NamedError {
  readonly isRetryable = false;
  readonly isCatchable = false;
  constructor(message: string) {
    super('States.Runtime', message);
  }
}

/** The error as Step Functions sees a Lambda function error: Error = errorType, Cause = the error as JSON. */
function lambdaError(error: unknown): NamedError {
  const errorType = error instanceof Error ? error.name : 'Error';
  const errorMessage = error instanceof Error ? error.message : String(error);
  return new NamedError(errorType, JSON.stringify({ errorType, errorMessage }));
}

/** The value at a simple reference path (`$`, `$.a.b`) of `value`. */
function readPath(value: unknown, path: string): unknown {
  if (path === '$') return value;
  if (!/^\$(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(path)) {
    throw new StatesRuntimeError(`runbook-runner: unsupported reference path ${path}`);
  }
  let current: unknown = value;
  for (const key of path.slice(2).split('.')) current = isRecord(current) ? current[key] : undefined;
  return current;
}

/** Resolves after `ms` (longer than Node's longest timer too), or never once `signal` is aborted. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const step = (left: number) => {
      timer = setTimeout(
        () => (left > MAX_TIMER_SECONDS * 1000 ? step(left - MAX_TIMER_SECONDS * 1000) : resolve()),
        Math.min(left, MAX_TIMER_SECONDS * 1000),
      );
    };
    signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
    if (!signal.aborted) step(ms);
  });
}
