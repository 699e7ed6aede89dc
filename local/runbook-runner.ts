/**
 * Runs the recovery runbooks locally (tests, local mode) from the state machines the CDK app synthesizes:
 * there is no second, hand-written copy of the flow. `loadRunbookDefinitions()` builds the app in-process
 * (infra/build-app.ts, bundling off) into a temporary directory, takes the two state machines'
 * `DefinitionString` from the template and resolves its `Fn::Join` / `Fn::GetAtt` / `Ref` to placeholder
 * ARNs ({@link RUNBOOK_STEPS_FUNCTION_ARN} for runbook-steps). The result is cached per process and on disk
 * (`.tmp/runbook-definitions/<hash>.json`, keyed by a hash of infra/**, functions/core/runbook.ts and the
 * aws-cdk-lib version), so only the first run after a change pays for the synthesis (a few seconds).
 * `runRunbook()` then runs a definition with aws-local-stepfunctions, every Task overridden by a local handler.
 *
 * What aws-local-stepfunctions 3.0.0 does, and what this runner adds (checked against its build, Node 20):
 * - Node 20: every Task state calls `Promise.withResolvers()` (Node 22+), so on Node 20 every Task fails
 *   with a TypeError, which `Catch: States.ALL` takes for a step failure (ReVerify → MarkFailed, which
 *   fails the same way): the runbook looks as if its first step had failed. The package declares engines
 *   node>=22 (the EBADENGINE warning); the package's "works on Node 20" holds only for definitions
 *   without Task states. This module installs the standard polyfill when the function is missing; with it
 *   the package works on Node 20 (checked: all the flows below).
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
 *   `"Not": { "IsPresent": true }` (the definition keeps AWS's idiomatic form).
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
import { createHash, randomUUID } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
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
import { REPO_ROOT } from '../infra/paths';
import { ROUTING_COMMENT_PREFIX } from '../infra/runbook-routing';

installPromiseWithResolvers();

/** Region and account of the placeholder ARNs (the definitions never reach AWS). */
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '123456789012';
/** What the runbook-steps function's ARN resolves to in the local definitions. */
export const RUNBOOK_STEPS_FUNCTION_ARN = `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:replica-sentinel-runbook-steps`;

/** The two runbooks, their definitions resolved, ready for aws-local-stepfunctions. */
export interface RunbookDefinitions {
  readonly definitions: Readonly<Record<RunbookName, StateMachineDefinition>>;
  /** Timeout (seconds) of the runbook-steps function, from the template. */
  readonly stepsTimeoutSeconds: number;
}

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
// Loading the synthesized definitions

let loaded: Promise<RunbookDefinitions> | undefined;

/**
 * The two runbooks' definitions from the synthesized CDK app, resolved (see the module comment). Cached per
 * process and on disk under .tmp/runbook-definitions/.
 */
export function loadRunbookDefinitions(): Promise<RunbookDefinitions> {
  loaded ??= loadOrSynthesize().catch((error: unknown) => {
    loaded = undefined;
    throw error;
  });
  return loaded;
}

/** Bump when the resolution below changes, so that older cache files are not used. */
const RESOLVER_VERSION = 1;

async function loadOrSynthesize(): Promise<RunbookDefinitions> {
  const cacheDir = join(REPO_ROOT, '.tmp', 'runbook-definitions');
  const file = join(cacheDir, `${sourceHash()}.json`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as RunbookDefinitions;
  } catch {
    // not cached yet (or unreadable): synthesize
  }
  const definitions = await synthesize();
  mkdirSync(cacheDir, { recursive: true });
  // Written whole, then renamed: a concurrent reader (another test worker) never sees half a file.
  const partial = `${file}.${process.pid}.${randomUUID()}`;
  writeFileSync(partial, JSON.stringify(definitions));
  renameSync(partial, file);
  // Definitions of older sources are never read again.
  for (const old of readdirSync(cacheDir).filter(
    (entry) => entry.endsWith('.json') && join(cacheDir, entry) !== file,
  )) {
    rmSync(join(cacheDir, old), { force: true });
  }
  return definitions;
}

/** Hash of what the definitions are built from: infra/**, the runbook contract and flow tables, the CDK version. */
function sourceHash(): string {
  const hash = createHash('sha256').update(`resolver ${RESOLVER_VERSION}\n`);
  const files = [
    ...listFiles(join(REPO_ROOT, 'infra')),
    join(REPO_ROOT, 'functions', 'core', 'runbook.ts'),
    join(REPO_ROOT, 'functions', 'core', 'runbook-flows.ts'),
  ];
  for (const file of files.sort()) {
    hash
      .update(`${relative(REPO_ROOT, file)}\n`)
      .update(readFileSync(file))
      .update('\n');
  }
  hash.update(readFileSync(join(REPO_ROOT, 'node_modules', 'aws-cdk-lib', 'package.json')));
  return hash.digest('hex').slice(0, 16);
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? listFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

interface TemplateJson {
  readonly Resources: Record<
    string,
    { readonly Type: string; readonly Properties?: Record<string, unknown> }
  >;
}

async function synthesize(): Promise<RunbookDefinitions> {
  // Loaded here, not at the top: a cached run never loads aws-cdk-lib.
  const [{ createApp }, { CfnElement }] = await Promise.all([
    import('../infra/build-app'),
    import('aws-cdk-lib'),
  ]);
  const outdir = mkdtempSync(join(tmpdir(), 'replica-sentinel-runbooks-'));
  try {
    const { app, stack } = createApp({
      outdir,
      nag: false,
      context: { region: LOCAL_REGION, 'aws:cdk:bundling-stacks': [] },
    });
    const logicalId = (construct: { node: { defaultChild?: unknown } }): string => {
      const child = construct.node.defaultChild;
      if (!CfnElement.isCfnElement(child))
        throw new Error('runbook-runner: a construct without a CloudFormation resource');
      return stack.getLogicalId(child);
    };
    const ids = {
      steps: logicalId(stack.runbooks.stepsFunction.fn),
      'primary-failover': logicalId(stack.runbooks.failover),
      'replica-recovery': logicalId(stack.runbooks.recovery),
      'primary-switchover': logicalId(stack.runbooks.switchover),
    };
    app.synth();
    const template = JSON.parse(readFileSync(join(outdir, stack.templateFile), 'utf8')) as TemplateJson;
    const definitionOf = (id: string): StateMachineDefinition => {
      const resource = template.Resources[id];
      if (resource?.Type !== 'AWS::StepFunctions::StateMachine') {
        throw new Error(`runbook-runner: ${id} is not a state machine of the synthesized template`);
      }
      const text = resolveIntrinsics(resource.Properties?.DefinitionString, template, ids.steps);
      if (typeof text !== 'string') throw new Error(`runbook-runner: ${id} has no DefinitionString`);
      return JSON.parse(text) as StateMachineDefinition;
    };
    const timeout = template.Resources[ids.steps]?.Properties?.Timeout;
    return {
      definitions: {
        'primary-failover': definitionOf(ids['primary-failover']),
        'replica-recovery': definitionOf(ids['replica-recovery']),
        'primary-switchover': definitionOf(ids['primary-switchover']),
      },
      stepsTimeoutSeconds: typeof timeout === 'number' ? timeout : 3,
    };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

const PSEUDO_PARAMETERS: Readonly<Record<string, string>> = {
  'AWS::Partition': 'aws',
  'AWS::Region': LOCAL_REGION,
  'AWS::AccountId': LOCAL_ACCOUNT,
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'replica-sentinel-local',
};

/** Resolves `Fn::Join`, `Fn::GetAtt` and `Ref` to strings; the steps function to {@link RUNBOOK_STEPS_FUNCTION_ARN}. */
function resolveIntrinsics(value: unknown, template: TemplateJson, stepsId: string): unknown {
  const resolve = (v: unknown): unknown => resolveIntrinsics(v, template, stepsId);
  if (Array.isArray(value)) return value.map(resolve);
  if (!isRecord(value)) return value;
  const join = value['Fn::Join'];
  if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) {
    return join[1].map((part: unknown) => String(resolve(part))).join(join[0]);
  }
  const getAtt = value['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') {
    const [id, attribute] = getAtt;
    if (id === stepsId && attribute === 'Arn') return RUNBOOK_STEPS_FUNCTION_ARN;
    const type = template.Resources[id]?.Type ?? 'Unknown';
    return attribute === 'Arn'
      ? `arn:aws:${type.split('::')[1]?.toLowerCase() ?? 'unknown'}:${LOCAL_REGION}:${LOCAL_ACCOUNT}:placeholder/${id}`
      : `${id}.${String(attribute)}`;
  }
  const ref = value.Ref;
  if (typeof ref === 'string') {
    return (
      PSEUDO_PARAMETERS[ref] ?? (ref === stepsId ? 'replica-sentinel-runbook-steps' : `placeholder-${ref}`)
    );
  }
  if (Object.keys(value).some((key) => key.startsWith('Fn::'))) {
    throw new Error(
      `runbook-runner: cannot resolve ${Object.keys(value).join(', ')} in a state machine definition`,
    );
  }
  return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, resolve(v)]));
}

// ---------------------------------------------------------------------------------------------------------
// Emulating the Task resources

type Json = Parameters<StateMachine['run']>[0];
type Handler = (input: Json) => Promise<Json>;

const CALLBACK_RESOURCE = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
const GET_AUTOMATION_EXECUTION_RESOURCE = 'arn:aws:states:::aws-sdk:ssm:getAutomationExecution';
/** Longest timer Node keeps (2^31 - 1 ms, about 24.8 days), in whole seconds. */
const MAX_TIMER_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

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

/** Choice type tests whose negative form the engine gets wrong (`IsPresent: false` never matches there). */
const TYPE_TESTS = ['IsPresent', 'IsNull', 'IsNumeric', 'IsString', 'IsBoolean', 'IsTimestamp'] as const;

/**
 * A Choice rule with every `"IsX": false` test rewritten as `"Not": { "IsX": true }`, which means the same
 * in the States language and which the engine evaluates correctly (it returns false for `"IsX": false`
 * whatever the value: aws-local-stepfunctions 3.0.0, ChoiceStateAction).
 */
function negatedTypeTests<T>(rule: T): T {
  if (!isRecord(rule)) return rule;
  const rewritten: Record<string, unknown> = { ...rule };
  for (const key of ['And', 'Or'] as const) {
    const rules = rewritten[key];
    if (Array.isArray(rules)) rewritten[key] = rules.map((inner: unknown) => negatedTypeTests(inner));
  }
  if (rewritten.Not !== undefined) rewritten.Not = negatedTypeTests(rewritten.Not);
  const test = TYPE_TESTS.find((key) => rewritten[key] === false);
  if (test !== undefined) {
    const { Next, Variable, [test]: _false, ...rest } = rewritten;
    return { ...rest, ...(Next === undefined ? {} : { Next }), Not: { Variable, [test]: true } } as T;
  }
  return rewritten as T;
}

/** Calls `steps` as Lambda would run runbook-steps; a thrown error is reported as Lambda reports it. */
async function invokeSteps(options: RunRunbookOptions, input: Json, where: string): Promise<unknown> {
  const payload = stepsPayload(input, where);
  try {
    return await options.steps(payload);
  } catch (error) {
    throw lambdaError(error);
  }
}

async function awaitApproval(
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

async function getAutomationExecution(options: RunRunbookOptions, input: Json, where: string): Promise<Json> {
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

// ---------------------------------------------------------------------------------------------------------
// Errors, paths, events

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

function errorInfo(cause: unknown): { Error: string; Cause: string } {
  if (cause instanceof Error) return { Error: cause.name, Cause: cause.message };
  return { Error: 'Error', Cause: String(cause) };
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asRunbookState(value: unknown): RunbookState {
  if (!isRecord(value))
    throw new Error(`runbook-runner: the runbook ended with ${JSON.stringify(value)}, not a state`);
  return value as unknown as RunbookState;
}

/** A plain JSON copy (what crosses a Lambda or Step Functions boundary). */
function toJson(value: unknown): Json {
  return value === undefined ? null : (JSON.parse(JSON.stringify(value)) as Json);
}

/**
 * aws-local-stepfunctions calls `Promise.withResolvers()` (ES2024, Node 22) in every Task state. On Node 20
 * it is missing; this is the standard polyfill, installed only then.
 */
function installPromiseWithResolvers(): void {
  const promise = Promise as unknown as { withResolvers?: unknown };
  if (typeof promise.withResolvers === 'function') return;
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T>(this: PromiseConstructor) {
      let resolve: (value: T | PromiseLike<T>) => void = () => undefined;
      let reject: (reason?: unknown) => void = () => undefined;
      const created = new this<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise: created, resolve, reject };
    },
  });
}
